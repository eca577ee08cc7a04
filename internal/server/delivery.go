package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"kilt"
	"kilt/internal/config"
	"kilt/internal/mail"
	"kilt/internal/notify"
	"kilt/internal/oidcop"
	"kilt/internal/outbox"
	"kilt/internal/sms"
	"kilt/internal/sqlstore"
)

// devLogKeep is how many messages the dev outbox page shows.
const devLogKeep = 200

// delivery builds the outbox dispatcher and its senders from the configuration: SMTP (or,
// under --dev without KILT_SMTP_URL, the console and /dev/outbox), the SMS provider behind
// the guard (countries, mobile numbers, daily budget). It returns the dev log when one is in
// use, and a function closing the senders.
func (a *App) delivery(cfg *config.Config, secret []byte, console io.Writer) (devLog *sms.Log, closeFn func(), err error) {
	if console == nil {
		console = os.Stdout
	}
	senders := map[outbox.Channel]outbox.Sender{}
	closeFn = func() {}
	if cfg.SMTPURL == "" || cfg.SMSProvider == "log" {
		devLog = sms.NewLog(console, devLogKeep)
	}
	if cfg.SMTPURL == "" {
		senders[outbox.Email] = devLog
	} else {
		mc, err := mail.ParseURL(cfg.SMTPURL, cfg.MailSender())
		if err != nil {
			return nil, nil, fmt.Errorf("KILT_SMTP_URL: %w", err)
		}
		mc.Conns = max(1, cfg.OutboxWorkers)
		ms, err := mail.New(mc)
		if err != nil {
			return nil, nil, fmt.Errorf("KILT_SMTP_URL: %w", err)
		}
		senders[outbox.Email] = ms
		closeFn = func() { ms.Close() }
	}
	client := sms.NewHTTPClient(5*time.Second, 15*time.Second)
	var provider outbox.Sender
	switch cfg.SMSProvider {
	case "":
		// A command that does not serve (user, outbox) dispatches nothing.
	case "log":
		provider = devLog
	case "webhook":
		provider = sms.NewWebhook(cfg.SMSWebhookURL, cfg.SMSWebhookToken, client)
	case "mobizon":
		provider = sms.NewMobizon(cfg.MobizonURL, cfg.MobizonAPIKey, client)
	case "twilio":
		provider = sms.NewTwilio(cfg.TwilioURL, cfg.TwilioSID, cfg.TwilioToken, cfg.TwilioFrom, client)
	default:
		return nil, nil, fmt.Errorf("unknown SMS provider %q", cfg.SMSProvider)
	}
	budget := sqlstore.NewSMSBudget(a.DB)
	if provider != nil {
		a.SMSGuard = sms.NewGuard(provider, budget, sms.GuardConfig{Countries: cfg.SMSCountries,
			DailyBudget: cfg.SMSDailyBudget, RecoveryReserve: cfg.SMSRecoveryReserve,
			RangeLimit: limit("sms_number_range", cfg.LimitSMSNumberRange), Limits: sqlstore.NewRateLimits(a.DB),
			RangeKey: kilt.DeriveKey(secret, "sms-number-range"), Clock: a.Clock})
		senders[outbox.SMS] = a.SMSGuard
	}

	senders[outbox.Backchannel] = oidcop.BackchannelSender{Client: &http.Client{Timeout: 10 * time.Second},
		Sign: func(ctx context.Context, params map[string]string) (string, error) {
			return a.OIDC.LogoutToken(ctx, params)
		}}
	renderer := oidcop.Renderer{Next: notify.New(notify.Config{Names: cfg.Brand.Names(),
		Support: cfg.Brand.Support, Accent: cfg.Brand.Palette.Accent, Location: cfg.Timezone})}
	a.Dispatcher = outbox.NewDispatcher(a.Outbox, senders, renderer, a.Clock,
		outbox.Config{Workers: cfg.OutboxWorkers, MaxAttempts: cfg.OutboxMaxAttempts, Lease: cfg.OutboxLease}, a.Log, a.Metrics)
	a.registerMetrics()
	return devLog, closeFn, nil
}

// registerMetrics adds the gauges read at scrape time.
func (a *App) registerMetrics() {
	m := a.Metrics
	m.OutboxDepth(a.Outbox.Depth, a.Clock)
	if g := a.SMSGuard; g != nil {
		m.GaugeFunc("kilt_sms_budget_left", "SMS left of today's global budget (UTC day); -1 when unlimited or unknown.", func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			left, known, err := g.BudgetLeft(ctx)
			if err != nil || !known {
				return -1
			}
			return float64(left)
		})
	}
	pool := a.Pool
	m.GaugeFunc("kilt_hash_pool_size", "Password hashes that may run at once.", func() float64 { return float64(pool.Stats().Size) })
	m.GaugeFunc("kilt_hash_pool_busy", "Password hashes running now.", func() float64 { return float64(pool.Stats().Busy) })
	m.GaugeFunc("kilt_hash_pool_waiting", "Requests waiting for a hashing slot now.", func() float64 { return float64(pool.Stats().Waiting) })
	m.CounterFunc("kilt_hash_pool_waits_total", "Requests that had to wait for a hashing slot.", func() float64 { return float64(pool.Stats().Waits) })
	m.CounterFunc("kilt_hash_pool_rejected_total", "Requests refused (503) because no hashing slot freed in time.", func() float64 { return float64(pool.Stats().Rejected) })
	db := a.DB
	m.CounterFunc("kilt_db_statements_total", "SQL statements sent to the database (one round trip each).",
		func() float64 { s, _ := db.Counts(); return float64(s) })
	m.CounterFunc("kilt_db_transactions_total", "Transactions run on the database (two more round trips each: begin, commit).",
		func() float64 { _, t := db.Counts(); return float64(t) })
	if db.Dialect() == sqlstore.SQLite {
		m.CounterFunc("kilt_db_write_lock_seconds_total", "Seconds this process held SQLite's one write lock: a rate near 1 means writes queue for it.",
			func() float64 { return db.WriteHeld().Seconds() })
	}
}
