// Package server assembles Kilt: it opens and migrates the database, settles the server
// secret, builds the services, mounts the API (and later the pages) behind one middleware
// chain, and runs the HTTP server with a graceful stop.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/config"
	"kilt/internal/desk"
	"kilt/internal/metrics"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
	"kilt/internal/recovery"
	"kilt/internal/retention"
	"kilt/internal/session"
	"kilt/internal/sms"
	"kilt/internal/sqlstore"
)

// App is an assembled Kilt: its database and services. The CLI's commands use its services
// directly; serve puts its Handler on the network.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	DB       *sqlstore.DB
	Pool     *password.Pool
	Hasher   *password.Hasher
	Accounts *account.Service
	Sessions *session.Service
	Clock    kilt.Clock

	Recovery      *recovery.Service
	Registrations *account.Registrations
	Processor     *recovery.Processor
	Audit         *sqlstore.Audit
	// Desk is the service-centre desk (SPEC §10): operators, the console, assisted recovery.
	Desk *desk.Service

	// Retention deletes expired rows while serving.
	Retention *retention.Job

	Outbox     *sqlstore.Outbox
	Dispatcher *outbox.Dispatcher
	SMSGuard   *sms.Guard
	Metrics    *metrics.Metrics
	// DevLog keeps the messages the console transports printed, for /dev/outbox; nil unless
	// a log transport is in use.
	DevLog *sms.Log

	closeSenders func()
}

// secretSetting is the settings key of the generated server secret.
const secretSetting = "server_secret"

// Open opens the configured database, applies pending migrations, settles the secret (the
// configured one, else the one kept in the database, else a new one stored there — the
// first of several instances starting together wins) and builds the services. clock is nil
// but in tests that move time by hand.
//
// console receives what the dev transports print (nil: standard output).
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, clock kilt.Clock, console io.Writer) (*App, error) {
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	for _, m := range applied {
		log.Info("migration applied", "name", m)
	}
	secret := cfg.Secret
	if secret == nil {
		raw := make([]byte, 48)
		if _, err := rand.Read(raw); err != nil {
			db.Close()
			return nil, err
		}
		v, err := db.EnsureSetting(ctx, secretSetting, base64.RawStdEncoding.EncodeToString(raw))
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("keeping the server secret: %w", err)
		}
		secret = []byte(v)
	}
	if clock == nil {
		// Microseconds are what both databases keep; a clock at that precision makes what a
		// response shows equal what a later read returns.
		clock = func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
	}
	pool := password.NewPool(cfg.HashWorkers, cfg.HashWait)
	hasher := password.NewHasher(password.Params{Memory: cfg.Argon2Memory, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads}, pool)
	policy := password.DefaultPolicy()
	throttle := account.DefaultThrottle()
	throttle.Free, throttle.Max = cfg.LoginFreeFailures, cfg.LoginMaxDelay
	a := &App{
		Config: cfg, Log: log, DB: db, Pool: pool, Hasher: hasher, Clock: clock,
		Accounts: account.NewService(sqlstore.NewAccounts(db), sqlstore.NewAudit(db), hasher, policy, clock,
			account.Config{PhoneRegion: cfg.PhoneRegion, Throttle: throttle, Secret: secret, RecoveryURL: recoveryURL(cfg)}),
		Sessions: session.NewService(sqlstore.NewSessions(db), clock,
			session.Config{IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionLifetime}),
		Outbox:  sqlstore.NewOutbox(db),
		Metrics: metrics.New(),
	}
	if a.DevLog, a.closeSenders, err = a.delivery(cfg, secret, console); err != nil {
		db.Close()
		return nil, err
	}
	rcfg := recovery.Config{ResetURL: recoveryURL(cfg) + "/reset", RecoveryURL: recoveryURL(cfg), Secret: secret,
		OnLimit: a.Metrics.LimitHit, OnFlow: a.Metrics.Flow,
		LinkLifetime: cfg.LinkLifetime, CodeLifetime: cfg.CodeLifetime,
		Limits: recovery.Limits{
			PerIP:         limit("recovery_ip", cfg.LimitRecoveryIP),
			PerIdentifier: limit("recovery_identifier", cfg.LimitRecoveryID),
			PerAccount:    limit("recovery_account", cfg.LimitRecoveryAccount),
			SMSNumberHour: limit("sms_number_hour", cfg.LimitSMSNumberHour),
			SMSNumberDay:  limit("sms_number_day", cfg.LimitSMSNumberDay),
		}}
	var check recovery.NumberCheck
	if a.SMSGuard != nil {
		check = a.SMSGuard.Check
	}
	recoveries := sqlstore.NewRecovery(db)
	a.Processor = recovery.NewProcessor(recoveries, clock, rcfg, check, a.Dispatcher, log)
	a.Recovery = recovery.NewService(recoveries, a.Accounts, clock, rcfg, a.Processor)
	a.Audit = sqlstore.NewAudit(db)
	a.Metrics.Limits("recovery_ip", "recovery_identifier", "recovery_account", "sms_number_hour", "sms_number_day",
		"registration_ip", "registration_identifier")
	a.Registrations = account.NewRegistrations(sqlstore.NewRegistrations(db), a.Accounts, clock, account.RegistrationConfig{
		PerIP:         limit("registration_ip", cfg.LimitRegistrationIP),
		PerIdentifier: limit("registration_identifier", cfg.LimitRegistrationID),
		SMSNumberHour: rcfg.Limits.SMSNumberHour, SMSNumberDay: rcfg.Limits.SMSNumberDay,
		ConfirmURL: baseURL(cfg) + "/register/confirm", RecoveryURL: recoveryURL(cfg), Secret: secret,
		OnLimit: a.Metrics.LimitHit, OnFlow: a.Metrics.Flow,
	}, check, a.Dispatcher)
	retained := sqlstore.NewRetention(db)
	for _, t := range retained.Tables() {
		a.Metrics.RetentionTables(t.Name)
	}
	a.Retention = retention.New(retained, clock, retention.Config{Interval: cfg.RetentionInterval,
		Ages: map[retention.Class]time.Duration{retention.Expired: cfg.RetentionExpired,
			retention.Counter: cfg.RetentionCounters, retention.Message: cfg.RetentionMessages}},
		log, a.Metrics.RetentionDeleted)
	a.Desk = newDesk(a, cfg, secret)
	return a, nil
}

// Close releases the senders and the database.
func (a *App) Close() error {
	if a.closeSenders != nil {
		a.closeSenders()
	}
	return a.DB.Close()
}

// NewLogger returns the process logger in the configured format and level.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// baseURL is the configured base URL ("" for commands that do not serve and have none).
func baseURL(cfg *config.Config) string {
	if cfg.BaseURL == nil {
		return ""
	}
	return cfg.BaseURL.String()
}

// recoveryURL is the recovery page that notices point to.
func recoveryURL(cfg *config.Config) string { return baseURL(cfg) + "/recovery" }

func limit(name string, r config.Rate) ratelimit.Limit {
	return ratelimit.Limit{Name: name, Count: r.Count, Period: r.Period}
}
