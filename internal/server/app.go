// Package server is Kilt's wiring, the one layer that knows every other: it opens and
// migrates the database, settles the server secret, builds the adapters (sqlstore, the mail
// and SMS senders) and the domain services on them, mounts the pages and the API behind one
// middleware chain, and runs the HTTP server with a graceful stop. It is therefore the only
// package besides cmd that imports sqlstore, mail and sms; the layering is drawn in
// README's Layout section and kept by TestLayering.
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
	"kilt/internal/oidc"
	"kilt/internal/oidcop"
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
	// Channels changes the channels of accounts (SPEC §9).
	Channels  *account.Channels
	Processor *recovery.Processor
	Audit     *sqlstore.Audit
	// OIDC is the OpenID provider's domain (single sign-on).
	OIDC *oidc.Service
	// Desk is the service-centre desk: operators, the console, assisted recovery.
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
	restoreTexts func()
	secret       []byte
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
		Config: cfg, Log: log, DB: db, Pool: pool, Hasher: hasher, Clock: clock, secret: secret,
		Outbox:  sqlstore.NewOutbox(db),
		Metrics: metrics.New(),
	}
	// The operator's texts replace the catalogs' for the whole process (one portal per
	// process); installed only when there are some, so that apps of tests without them do
	// not reset another's.
	if cfg.Brand.HasTexts() {
		a.restoreTexts = cfg.Brand.Install()
	}
	// Every check of a password is padded to the costliest hash the database holds, so that
	// sign-in timing does not tell imported or older accounts apart.
	sessions := sqlstore.NewSessions(db)
	if err := sessions.HashHeads(ctx, hasher.Head(), hasher.Observe); err != nil {
		db.Close()
		return nil, fmt.Errorf("reading the costs of the stored password hashes: %w", err)
	}
	scfg := sessionConfig(cfg, secret)
	scfg.OnLimit = a.Metrics.LimitHit
	// The provider is told of every end of a session, in the transaction that ends it.
	a.OIDC = oidc.NewService(sqlstore.NewOIDC(db), clock, oidc.Config{Secret: secret,
		SessionIdle: cfg.SessionIdle, SessionLifetime: cfg.SessionLifetime, LogoutToken: oidcop.LogoutTokenSigner(baseURL(cfg))})
	scfg.Provider = a.OIDC
	a.Sessions = session.NewService(sessions, hasher, policy, clock, scfg)
	a.Accounts = account.NewService(sqlstore.NewAccounts(db), sqlstore.NewAudit(db), hasher, policy, clock,
		account.Config{PhoneRegion: cfg.PhoneRegion, Throttle: throttle, Secret: secret, RecoveryURL: recoveryURL(cfg),
			FreezeURL: baseURL(cfg) + "/freeze",
			Deletion:  account.DeletionConfig{Grace: cfg.DeletionGrace, CancelURL: baseURL(cfg) + "/deletion/cancel"},
			EndSessions: func(ctx context.Context, tx account.Tx, accountID, except int64) error {
				_, err := a.Sessions.EndAccount(ctx, tx, accountID, except)
				return err
			}})
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
			VerifyPerIP:   limit("recovery_verify_ip", cfg.LimitVerifyIP),
			// Never off: taking it serializes the code checks of a number.
			VerifyPerNumber: recovery.DefaultLimits().VerifyPerNumber,
			PerAccount:      limit("recovery_account", cfg.LimitRecoveryAccount),
			SMSNumberHour:   limit("sms_number_hour", cfg.LimitSMSNumberHour),
			SMSNumberDay:    limit("sms_number_day", cfg.LimitSMSNumberDay),
		}}
	var check recovery.NumberCheck
	if a.SMSGuard != nil {
		check = a.SMSGuard.Check
	}
	recoveries := sqlstore.NewRecovery(db)
	a.Processor = recovery.NewProcessor(recoveries, clock, rcfg, check, a.Dispatcher, log)
	a.Recovery = recovery.NewService(recoveries, a.Accounts, clock, rcfg, check, a.Processor)
	a.Audit = sqlstore.NewAudit(db)
	a.Metrics.Limits("recovery_ip", "recovery_identifier", "recovery_verify_ip", "recovery_verify_number", "recovery_account", "sms_number_hour", "sms_number_day",
		"registration_ip", "registration_identifier", "registration_verify_number", "login_ip")
	a.Registrations = account.NewRegistrations(sqlstore.NewAccounts(db), a.Accounts, clock, account.RegistrationConfig{
		PerIP:         limit("registration_ip", cfg.LimitRegistrationIP),
		PerIdentifier: limit("registration_identifier", cfg.LimitRegistrationID),
		SMSNumberHour: rcfg.Limits.SMSNumberHour, SMSNumberDay: rcfg.Limits.SMSNumberDay,
		ConfirmURL: baseURL(cfg) + "/register/confirm", RecoveryURL: recoveryURL(cfg), Secret: secret,
		ConsentVersion: cfg.Brand.ConsentVersion(), ConsentText: cfg.Brand.ConsentText,
		OnLimit: a.Metrics.LimitHit, OnFlow: a.Metrics.Flow,
	}, check, a.Dispatcher)
	a.Channels = account.NewChannels(a.Registrations, account.ChannelConfig{
		ConfirmURL: baseURL(cfg) + "/account/channels/confirm", FreezeURL: baseURL(cfg) + "/freeze"})
	// One job prunes everything: the tables of sqlstore's list, and the provider's rows,
	// whose lifetimes its own domain knows, and the accounts whose erasure is due; sessions
	// that timed out end as every session does, telling the applications that had them.
	var retained retention.Store = sqlstore.NewRetention(db)
	retained = domainPruning{Store: retained, name: ssoRows, add: true, run: func(ctx context.Context, _ int) (int, error) {
		n, err := a.OIDC.Prune(ctx)
		return int(n), err
	}}
	retained = domainPruning{Store: retained, name: erasureRows, add: true, run: a.Accounts.EraseDue}
	retained = domainPruning{Store: retained, name: sessionRows, run: a.Sessions.EndTimedOut}
	for _, t := range retained.Tables() {
		a.Metrics.RetentionTables(t.Name)
	}
	ages := map[retention.Class]time.Duration{retention.Expired: cfg.RetentionExpired,
		retention.Counter: cfg.RetentionCounters, retention.Message: cfg.RetentionMessages}
	if cfg.RetentionAudit > 0 {
		ages[retention.Audit] = cfg.RetentionAudit
	}
	a.Retention = retention.New(retained, clock, retention.Config{Interval: cfg.RetentionInterval, Ages: ages},
		log, a.Metrics.RetentionDeleted)
	if cfg.Dev {
		if err := a.devClient(ctx); err != nil {
			a.Close()
			return nil, fmt.Errorf("registering the demo client: %w", err)
		}
	}
	a.Desk = newDesk(a, cfg, secret)
	return a, nil
}

// sessionConfig is the session service's configuration: the sign-in slow-down per
// identifier and client takes the configured free failures and longest wait; the ceiling
// per identifier over all clients allows ten times the free failures.
func sessionConfig(cfg *config.Config, secret []byte) session.Config {
	c := session.DefaultConfig()
	c.IdleTimeout, c.AbsoluteTimeout, c.PhoneRegion, c.Secret = cfg.SessionIdle, cfg.SessionLifetime, cfg.PhoneRegion, secret
	c.PerClient.Free, c.PerClient.Max = cfg.LoginFreeFailures, cfg.LoginMaxDelay
	c.PerIdentifier.Free, c.PerIdentifier.Max = 10*cfg.LoginFreeFailures, cfg.LoginMaxDelay
	c.PerIP = limit("login_ip", cfg.LimitLoginIP)
	c.RecoveryURL = recoveryURL(cfg)
	return c
}

// Close releases the senders and the database.
func (a *App) Close() error {
	if a.closeSenders != nil {
		a.closeSenders()
	}
	if a.restoreTexts != nil {
		a.restoreTexts()
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
