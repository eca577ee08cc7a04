// Package config reads Kilt's configuration from environment variables and flags (a flag
// wins over its variable, a variable over the default), validates all of it at once with
// one clear message per problem, and prints it with secrets masked.
//
// Every setting is declared once in the settings table below: its variable, its flag, its
// default, what it means, and how it is parsed. The reference in docs is made from that
// table, so the two cannot disagree.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"kilt/internal/brand"
)

// Config is the effective configuration of one process.
type Config struct {
	Dev bool

	Listen         string
	BaseURL        *url.URL
	DatabaseURL    string
	Secret         []byte // nil: generated and kept in the database on first start
	DefaultLang    string
	PhoneRegion    string
	TrustedProxies []netip.Prefix
	MetricsListen  string
	// AdminListen is the address of the service-centre console ("": off).
	AdminListen string
	// Pprof serves net/http/pprof on the metrics listener (profiling under load).
	Pprof bool

	LogLevel  string
	LogFormat string

	Argon2Memory  uint32
	Argon2Time    uint32
	Argon2Threads uint8
	HashWorkers   int
	HashWait      time.Duration

	SessionIdle     time.Duration
	SessionLifetime time.Duration

	LoginFreeFailures int
	LoginMaxDelay     time.Duration

	ShutdownTimeout time.Duration
	DrainDelay      time.Duration

	SMTPURL  string // "" in --dev: e-mail goes to the dev outbox
	MailFrom string

	SMSProvider     string // log, webhook, mobizon, twilio
	SMSWebhookURL   string
	SMSWebhookToken string
	MobizonURL      string
	MobizonAPIKey   string
	TwilioURL       string
	TwilioSID       string
	TwilioToken     string
	TwilioFrom      string
	SMSCountries    []string
	SMSDailyBudget  int
	// SMSRecoveryReserve is the percentage of the daily budget registration SMS may not spend.
	SMSRecoveryReserve int

	// Recovery lifetimes and limits (docs/security.md).
	LinkLifetime         time.Duration
	CodeLifetime         time.Duration
	LimitRecoveryIP      Rate
	LimitRecoveryID      Rate
	LimitRecoveryAccount Rate
	LimitVerifyIP        Rate
	LimitSMSNumberHour   Rate
	LimitSMSNumberDay    Rate
	LimitRegistrationIP  Rate
	LimitRegistrationID  Rate
	LimitSMSNumberRange  Rate
	LimitLoginIP         Rate
	LimitOperatorLookup  Rate

	// Retention: how often expired rows are deleted (0: never) and how long past its time
	// a row of each class is kept (internal/retention).
	RetentionInterval time.Duration
	RetentionExpired  time.Duration
	RetentionCounters time.Duration
	RetentionMessages time.Duration
	// DeletionGrace is how long an account lives after its owner asked to delete it.
	DeletionGrace time.Duration

	OutboxWorkers     int
	OutboxMaxAttempts int
	OutboxLease       time.Duration
	Timezone          *time.Location

	// Brand is the operator's identity and words (SPEC §11), checked (package brand).
	Brand *brand.Brand
	brand brand.Config

	// sources records where each setting's value came from: "default", "env" or "flag".
	sources map[string]string
	raw     map[string]string
}

// Secure reports whether the service is reached over TLS (its base URL is https), which
// decides the cookie name (__Host- prefix), the Secure flag and HSTS.
func (c *Config) Secure() bool { return c.BaseURL != nil && c.BaseURL.Scheme == "https" }

// setting declares one configuration variable.
type setting struct {
	Env     string
	Default string
	// DevDefault replaces Default under --dev when set.
	DevDefault string
	Usage      string
	Secret     bool
	parse      func(c *Config, v string) error
}

// Flag is the command-line flag of the setting: KILT_BASE_URL → --base-url.
func (s setting) Flag() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.Env, "KILT_")), "_", "-")
}

var settings = []setting{
	{Env: "KILT_LISTEN", Default: "127.0.0.1:8080", Usage: "address the HTTP server listens on",
		parse: func(c *Config, v string) error { return parseListen(&c.Listen, v) }},
	{Env: "KILT_BASE_URL", DevDefault: "http://localhost:8080",
		Usage: "public address of the service; every link in a message is built from it, never from request headers",
		parse: parseBaseURL},
	{Env: "KILT_DATABASE_URL", Default: "sqlite:kilt-data/kilt.db",
		Usage: "sqlite:PATH or postgres://user:pass@host:5432/db", Secret: true,
		parse: parseDatabaseURL},
	{Env: "KILT_SECRET", Secret: true,
		Usage: "server secret (at least 32 characters); generated and kept in the database when neither it nor KILT_SECRET_FILE is set",
		parse: func(c *Config, v string) error { return parseSecret(c, v, "KILT_SECRET") }},
	{Env: "KILT_SECRET_FILE", Usage: "file holding the server secret",
		parse: parseSecretFile},
	{Env: "KILT_DEFAULT_LANG", Default: "kk", Usage: "language when a request names none: kk, ru or en",
		parse: func(c *Config, v string) error { return oneOf(&c.DefaultLang, v, "kk", "ru", "en") }},
	{Env: "KILT_PHONE_REGION", Default: "KZ", Usage: "country of phone numbers written without a country code (ISO 3166 alpha-2)",
		parse: parseRegion},
	{Env: "KILT_TRUSTED_PROXIES", Usage: "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For is believed",
		parse: parseProxies},
	{Env: "KILT_METRICS_LISTEN", Usage: "address of the Prometheus metrics listener (empty: off)",
		parse: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			return parseListen(&c.MetricsListen, v)
		}},
	{Env: "KILT_ADMIN_LISTEN", DevDefault: "127.0.0.1:8081",
		Usage: "address of the service-centre console (/admin) for operators (empty: off); keep it off the public network",
		parse: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			return parseListen(&c.AdminListen, v)
		}},
	{Env: "KILT_METRICS_PPROF", Default: "false",
		Usage: "true: also serve Go's profiler (/debug/pprof/) on the metrics listener; never expose it beyond operators",
		parse: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, not %q", v)
			}
			c.Pprof = b
			return nil
		}},
	{Env: "KILT_LOG_LEVEL", Default: "info", DevDefault: "debug", Usage: "debug, info, warn or error",
		parse: func(c *Config, v string) error { return oneOf(&c.LogLevel, v, "debug", "info", "warn", "error") }},
	{Env: "KILT_LOG_FORMAT", Default: "json", DevDefault: "text", Usage: "json or text",
		parse: func(c *Config, v string) error { return oneOf(&c.LogFormat, v, "json", "text") }},
	{Env: "KILT_ARGON2_MEMORY", Default: "19456", Usage: "Argon2id memory cost in KiB (at least 8192)",
		parse: func(c *Config, v string) error { return parseUint32(&c.Argon2Memory, v, 8192, 4<<20) }},
	{Env: "KILT_ARGON2_TIME", Default: "2", Usage: "Argon2id passes (at least 1)",
		parse: func(c *Config, v string) error { return parseUint32(&c.Argon2Time, v, 1, 64) }},
	{Env: "KILT_ARGON2_THREADS", Default: "1", Usage: "Argon2id parallelism (1 to 16)",
		parse: func(c *Config, v string) error {
			var n uint32
			err := parseUint32(&n, v, 1, 16)
			c.Argon2Threads = uint8(n)
			return err
		}},
	{Env: "KILT_HASH_WORKERS", Default: "0", Usage: "password hashes computed at once (0: one per CPU core); bounds memory under any load",
		parse: func(c *Config, v string) error {
			if err := parseInt(&c.HashWorkers, v, 0, 1024); err != nil {
				return err
			}
			if c.HashWorkers == 0 {
				c.HashWorkers = runtime.NumCPU()
			}
			return nil
		}},
	{Env: "KILT_HASH_WAIT", Default: "5s", Usage: "longest a request waits for a hashing worker before 503 with Retry-After",
		parse: func(c *Config, v string) error { return parseDuration(&c.HashWait, v, time.Millisecond, time.Minute) }},
	{Env: "KILT_SESSION_IDLE", Default: "30m", Usage: "a session unused this long ends",
		parse: func(c *Config, v string) error { return parseDuration(&c.SessionIdle, v, time.Minute, 30*24*time.Hour) }},
	{Env: "KILT_SESSION_LIFETIME", Default: "12h", Usage: "a session ends this long after sign-in, however active",
		parse: func(c *Config, v string) error {
			return parseDuration(&c.SessionLifetime, v, time.Minute, 365*24*time.Hour)
		}},
	{Env: "KILT_LOGIN_FREE_FAILURES", Default: "5", Usage: "failed sign-ins of one account or identifier before each next one must wait",
		parse: func(c *Config, v string) error { return parseInt(&c.LoginFreeFailures, v, 1, 1000) }},
	{Env: "KILT_LOGIN_MAX_DELAY", Default: "15m", Usage: "longest wait between sign-in attempts after repeated failures (the wait doubles from 1s)",
		parse: func(c *Config, v string) error { return parseDuration(&c.LoginMaxDelay, v, time.Second, 24*time.Hour) }},
	{Env: "KILT_SMTP_URL", Secret: true,
		Usage: "SMTP server: smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465 (TLS), smtp://host:25?starttls=false (local relay); empty in --dev: the dev outbox",
		parse: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "smtp://") && !strings.HasPrefix(v, "smtps://") {
				return errors.New("want smtp://… or smtps://…")
			}
			c.SMTPURL = v
			return nil
		}},
	{Env: "KILT_MAIL_FROM", Default: "no-reply@localhost", Usage: "sender of e-mails, e.g. Portal <no-reply@example.kz>; an address without a name is sent under the portal's name in KILT_DEFAULT_LANG",
		parse: func(c *Config, v string) error {
			if _, err := mail.ParseAddress(v); err != nil {
				return errors.New("want an address like Portal <no-reply@example.kz>")
			}
			c.MailFrom = v
			return nil
		}},
	{Env: "KILT_SMS_PROVIDER", DevDefault: "log", Usage: "log (console and /dev/outbox), webhook, mobizon or twilio",
		parse: func(c *Config, v string) error {
			if v == "" {
				return nil // crossCheck: required to serve
			}
			return oneOf(&c.SMSProvider, v, "log", "webhook", "mobizon", "twilio")
		}},
	{Env: "KILT_SMS_WEBHOOK_URL", Usage: "webhook provider: URL that receives POST {\"to\",\"text\",\"lang\"}",
		parse: func(c *Config, v string) error { return parseHTTPURL(&c.SMSWebhookURL, v) }},
	{Env: "KILT_SMS_WEBHOOK_TOKEN", Secret: true, Usage: "webhook provider: bearer token sent with each request",
		parse: func(c *Config, v string) error { c.SMSWebhookToken = v; return nil }},
	{Env: "KILT_MOBIZON_URL", Default: "https://api.mobizon.kz", Usage: "mobizon provider: API base URL",
		parse: func(c *Config, v string) error { return parseHTTPURL(&c.MobizonURL, v) }},
	{Env: "KILT_MOBIZON_API_KEY", Secret: true, Usage: "mobizon provider: API key",
		parse: func(c *Config, v string) error { c.MobizonAPIKey = v; return nil }},
	{Env: "KILT_TWILIO_URL", Default: "https://api.twilio.com", Usage: "twilio provider: API base URL",
		parse: func(c *Config, v string) error { return parseHTTPURL(&c.TwilioURL, v) }},
	{Env: "KILT_TWILIO_ACCOUNT_SID", Usage: "twilio provider: account SID",
		parse: func(c *Config, v string) error { c.TwilioSID = v; return nil }},
	{Env: "KILT_TWILIO_AUTH_TOKEN", Secret: true, Usage: "twilio provider: auth token",
		parse: func(c *Config, v string) error { c.TwilioToken = v; return nil }},
	{Env: "KILT_TWILIO_FROM", Usage: "twilio provider: sender number (E.164) or messaging service SID (MG…)",
		parse: func(c *Config, v string) error { c.TwilioFrom = v; return nil }},
	{Env: "KILT_SMS_COUNTRIES", Default: "KZ", Usage: "comma-separated countries (ISO 3166 alpha-2) SMS may go to",
		parse: parseCountries},
	{Env: "KILT_SMS_DAILY_BUDGET", Default: "10000", Usage: "SMS sent a day across all instances before sending stops (0: unlimited)",
		parse: func(c *Config, v string) error { return parseInt(&c.SMSDailyBudget, v, 0, 100000000) }},
	{Env: "KILT_SMS_RECOVERY_RESERVE", Default: "30",
		Usage: "percent of the daily SMS budget kept for recovery codes: registration codes stop when the rest is spent",
		parse: func(c *Config, v string) error { return parseInt(&c.SMSRecoveryReserve, v, 0, 100) }},
	{Env: "KILT_OUTBOX_WORKERS", Default: "4", Usage: "messages the outbox sends at once",
		parse: func(c *Config, v string) error { return parseInt(&c.OutboxWorkers, v, 1, 256) }},
	{Env: "KILT_OUTBOX_MAX_ATTEMPTS", Default: "10", Usage: "attempts before a message is abandoned (backoff doubles from 5s, at most 1h)",
		parse: func(c *Config, v string) error { return parseInt(&c.OutboxMaxAttempts, v, 1, 100) }},
	{Env: "KILT_OUTBOX_LEASE", Default: "1m", Usage: "how long a claimed message is reserved for its dispatcher; a process that died leaves its messages to others after this",
		parse: func(c *Config, v string) error { return parseDuration(&c.OutboxLease, v, 2*time.Second, time.Hour) }},
	{Env: "KILT_TIMEZONE", Default: "Asia/Almaty", Usage: "time zone of times shown in messages",
		parse: func(c *Config, v string) error {
			loc, err := time.LoadLocation(v)
			if err != nil {
				return errors.New("not a known time zone, e.g. Asia/Almaty")
			}
			c.Timezone = loc
			return nil
		}},
	{Env: "KILT_BRAND_NAME", Usage: "the portal's name on every page and in every e-mail and SMS, in every language (default: the catalog's «Портал» / Portal)",
		parse: func(c *Config, v string) error { c.brand.Name = v; return nil }},
	{Env: "KILT_BRAND_NAME_KK", Usage: "the portal's name in Kazakh (over KILT_BRAND_NAME)",
		parse: func(c *Config, v string) error { c.brand.Names["kk"] = v; return nil }},
	{Env: "KILT_BRAND_NAME_RU", Usage: "the portal's name in Russian (over KILT_BRAND_NAME)",
		parse: func(c *Config, v string) error { c.brand.Names["ru"] = v; return nil }},
	{Env: "KILT_BRAND_NAME_EN", Usage: "the portal's name in English (over KILT_BRAND_NAME)",
		parse: func(c *Config, v string) error { c.brand.Names["en"] = v; return nil }},
	{Env: "KILT_BRAND_LOGO", Usage: "the portal's logo for the page header: an .svg (no scripts, no outside references) or .png file of at most 512 KiB, served by Kilt under a content-hashed name (default: a key icon)",
		parse: func(c *Config, v string) error { c.brand.LogoFile = v; return nil }},
	{Env: "KILT_BRAND_COLOR", Usage: "accent colour of buttons and links, #rrggbb; refused if white text on it is below 4.5:1 (default: #0b5394)",
		parse: func(c *Config, v string) error { c.brand.Color = v; return nil }},
	{Env: "KILT_SUPPORT_CONTACT", Usage: "how citizens reach support (a phone, an address, a web page), shown on every page and in every e-mail and SMS (empty: not shown)",
		parse: func(c *Config, v string) error { c.brand.Support = v; return nil }},
	{Env: "KILT_TEXTS_DIR", Usage: "directory of kk.json, ru.json, en.json overriding catalog messages by key; an unknown key, changed placeholders or a changed manual label is refused at start",
		parse: func(c *Config, v string) error { c.brand.TextsDir = v; return nil }},
	{Env: "KILT_LINK_LIFETIME", Default: "30m", Usage: "lifetime of an e-mail recovery link",
		parse: func(c *Config, v string) error { return parseDuration(&c.LinkLifetime, v, time.Minute, 24*time.Hour) }},
	{Env: "KILT_CODE_LIFETIME", Default: "5m", Usage: "lifetime of an SMS code",
		parse: func(c *Config, v string) error { return parseDuration(&c.CodeLifetime, v, time.Minute, time.Hour) }},
	{Env: "KILT_LIMIT_RECOVERY_IP", Default: "30/1h", Usage: "recovery requests per client IP (COUNT/PERIOD; 0/1h: off)",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitRecoveryIP, v) }},
	{Env: "KILT_LIMIT_RECOVERY_IDENTIFIER", Default: "5/1h", Usage: "recovery requests per e-mail or number, with or without an account",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitRecoveryID, v) }},
	{Env: "KILT_LIMIT_RECOVERY_ACCOUNT", Default: "5/1h", Usage: "links or codes sent per account (over it: the same answer, nothing sent)",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitRecoveryAccount, v) }},
	{Env: "KILT_LIMIT_VERIFY_IP", Default: "150/1h", Usage: "SMS codes checked per client IP, whatever the flows",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitVerifyIP, v) }},
	{Env: "KILT_LIMIT_SMS_NUMBER_HOUR", Default: "5/1h", Usage: "SMS per number per hour",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitSMSNumberHour, v) }},
	{Env: "KILT_LIMIT_SMS_NUMBER_DAY", Default: "10/24h", Usage: "SMS per number per day",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitSMSNumberDay, v) }},
	{Env: "KILT_LIMIT_REGISTRATION_IP", Default: "20/1h", Usage: "registrations per client IP",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitRegistrationIP, v) }},
	{Env: "KILT_LIMIT_LOGIN_IP", Default: "30/1m", Usage: "sign-in attempts per client IP, checked before any password is hashed",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitLoginIP, v) }},
	{Env: "KILT_LIMIT_REGISTRATION_IDENTIFIER", Default: "5/1h", Usage: "registrations per e-mail or number, taken or free",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitRegistrationID, v) }},
	{Env: "KILT_LIMIT_SMS_NUMBER_RANGE", Default: "20/24h",
		Usage: "registration SMS per range of 10,000 numbers (the number but its last 4 digits)",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitSMSNumberRange, v) }},
	{Env: "KILT_RETENTION_INTERVAL", Default: "1h", Usage: "how often expired rows are deleted (0s: never)",
		parse: func(c *Config, v string) error {
			return parseDuration(&c.RetentionInterval, v, 0, 7*24*time.Hour)
		}},
	{Env: "KILT_RETENTION_EXPIRED", Default: "24h",
		Usage: "how long expired sessions, links, codes, flows and unconfirmed registrations are kept past their end",
		parse: func(c *Config, v string) error { return parseDuration(&c.RetentionExpired, v, 0, 365*24*time.Hour) }},
	{Env: "KILT_RETENTION_COUNTERS", Default: "48h",
		Usage: "how long wrong-code and sign-in failure records are kept (at least 24h, the window they are counted in)",
		parse: func(c *Config, v string) error {
			return parseDuration(&c.RetentionCounters, v, 24*time.Hour, 365*24*time.Hour)
		}},
	{Env: "KILT_RETENTION_MESSAGES", Default: "720h",
		Usage: "how long sent, blocked and abandoned messages (their secrets already removed) and SMS budget days are kept",
		parse: func(c *Config, v string) error { return parseDuration(&c.RetentionMessages, v, 0, 10*365*24*time.Hour) }},
	{Env: "KILT_DELETION_GRACE", Default: "336h",
		Usage: "how long an account lives after its owner asked to delete it (14 days: 336h), from 1h to 8760h; the retention job then erases it",
		parse: func(c *Config, v string) error {
			return parseDuration(&c.DeletionGrace, v, time.Hour, 365*24*time.Hour)
		}},
	{Env: "KILT_LIMIT_OPERATOR_LOOKUP", Default: "60/1h", Usage: "account look-ups per console operator",
		parse: func(c *Config, v string) error { return parseRate(&c.LimitOperatorLookup, v) }},
	{Env: "KILT_DRAIN_DELAY", Default: "5s", DevDefault: "0s",
		Usage: "on SIGTERM, how long /readyz answers 503 while requests are still served, so a load balancer stops sending new ones",
		parse: func(c *Config, v string) error { return parseDuration(&c.DrainDelay, v, 0, 5*time.Minute) }},
	{Env: "KILT_SHUTDOWN_TIMEOUT", Default: "15s", Usage: "how long SIGTERM waits for requests in flight",
		parse: func(c *Config, v string) error { return parseDuration(&c.ShutdownTimeout, v, 0, 10*time.Minute) }},
}

// Settings describes every setting for documentation: variable, flag, default, meaning.
func Settings() []Setting {
	out := make([]Setting, len(settings))
	for i, s := range settings {
		out[i] = Setting{Env: s.Env, Flag: "--" + s.Flag(), Default: s.Default, DevDefault: s.DevDefault,
			Usage: s.Usage, Secret: s.Secret}
	}
	return out
}

// Setting is the public description of one setting.
type Setting struct {
	Env, Flag, Default, DevDefault, Usage string
	Secret                                bool
}

// Error lists every problem found in a configuration, one per line.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Options say what a command needs of the configuration.
type Options struct {
	// Serve: the command serves requests, so the base URL is required.
	Serve bool
}

// Load reads the configuration: flags parsed from args on fs (whose remaining arguments the
// caller reads with fs.Args; Load adds --dev and a flag per setting), then env (os.Getenv
// when nil), then the defaults — the dev defaults under --dev. It validates everything and
// returns an *Error listing every problem at once.
func Load(fs *flag.FlagSet, args []string, env func(string) string, opts Options) (*Config, error) {
	if env == nil {
		env = os.Getenv
	}
	devFlag := fs.Bool("dev", false, "development mode: SQLite in ./kilt-data, base URL http://localhost:8080, messages at /dev/outbox and on the console")
	flagVals := make(map[string]*string, len(settings))
	for _, s := range settings {
		flagVals[s.Env] = fs.String(s.Flag(), "", s.Usage+" (env "+s.Env+")")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	dev := *devFlag
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	c := &Config{Dev: dev, sources: map[string]string{}, raw: map[string]string{},
		brand: brand.Config{Names: map[string]string{}}}
	var problems []string
	for _, s := range settings {
		v, src := s.Default, "default"
		if dev && s.DevDefault != "" {
			v = s.DevDefault
		}
		if e := env(s.Env); e != "" {
			v, src = e, "env"
		}
		if set[s.Flag()] {
			v, src = *flagVals[s.Env], "flag"
		}
		v = strings.TrimSpace(v)
		c.sources[s.Env], c.raw[s.Env] = src, v
		if err := s.parse(c, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s %s): %v", s.Env, src, describe(s, v), err))
		}
	}
	b, bp := brand.Load(c.brand)
	c.Brand = b
	problems = append(problems, bp...)
	problems = append(problems, c.crossCheck(opts)...)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return c, nil
}

// describe shows a value in a problem message, never a secret one.
func describe(s setting, v string) string {
	if s.Secret {
		return "value hidden"
	}
	return strconv.Quote(v)
}

// crossCheck finds problems that involve more than one setting.
func (c *Config) crossCheck(opts Options) []string {
	var p []string
	if c.raw["KILT_SECRET"] != "" && c.raw["KILT_SECRET_FILE"] != "" {
		p = append(p, "KILT_SECRET and KILT_SECRET_FILE are both set: set one")
	}
	if opts.Serve && c.SMTPURL == "" && !c.Dev {
		p = append(p, "KILT_SMTP_URL is required to send e-mail (only `kilt serve --dev` shows e-mail at /dev/outbox instead)")
	}
	if opts.Serve && c.SMSProvider == "" {
		p = append(p, "KILT_SMS_PROVIDER is required: webhook, mobizon or twilio (log only prints codes to the console: for development)")
	}
	if opts.Serve && c.SMSProvider == "log" && !c.Dev {
		p = append(p, "KILT_SMS_PROVIDER=log prints codes to the console and is only for `kilt serve --dev`: choose webhook, mobizon or twilio")
	}
	need := map[string][]string{
		"webhook": {"KILT_SMS_WEBHOOK_URL"},
		"mobizon": {"KILT_MOBIZON_API_KEY"},
		"twilio":  {"KILT_TWILIO_ACCOUNT_SID", "KILT_TWILIO_AUTH_TOKEN", "KILT_TWILIO_FROM"},
	}
	for _, v := range need[c.SMSProvider] {
		if c.raw[v] == "" {
			p = append(p, fmt.Sprintf("%s is required with KILT_SMS_PROVIDER=%s", v, c.SMSProvider))
		}
	}
	if c.Pprof && c.MetricsListen == "" {
		p = append(p, "KILT_METRICS_PPROF=true needs KILT_METRICS_LISTEN: the profiler is served only on the metrics listener")
	}
	// /dev/outbox shows every message, codes and links included, to whoever can reach the
	// listener: --dev must never listen beyond this machine.
	if opts.Serve && c.Dev && c.AdminListen != "" && !loopbackListen(c.AdminListen) {
		p = append(p, fmt.Sprintf("KILT_ADMIN_LISTEN %q is not a loopback address: under `kilt serve --dev` the service-centre console listens only on 127.0.0.1, ::1 or localhost", c.AdminListen))
	}
	if opts.Serve && c.AdminListen != "" && c.AdminListen == c.Listen {
		p = append(p, "KILT_ADMIN_LISTEN must differ from KILT_LISTEN: the service-centre console has a listener of its own, never the citizens'")
	}
	if opts.Serve && c.Dev && c.Listen != "" && !loopbackListen(c.Listen) {
		p = append(p, fmt.Sprintf("KILT_LISTEN %q is not a loopback address: `kilt serve --dev` shows every message (codes and links included) at /dev/outbox, so it listens only on 127.0.0.1, ::1 or localhost", c.Listen))
	}
	if opts.Serve && c.BaseURL == nil && c.raw["KILT_BASE_URL"] == "" {
		p = append(p, "KILT_BASE_URL is required (the public address that links in messages point to, e.g. https://id.example.kz); `kilt serve --dev` sets http://localhost:8080")
	}
	return p
}

// MailSender is the From of e-mails: KILT_MAIL_FROM, under the portal's name in the default
// language when it names nobody.
func (c *Config) MailSender() string {
	a, err := mail.ParseAddress(c.MailFrom)
	if err != nil || a.Name != "" || c.Brand == nil {
		return c.MailFrom
	}
	a.Name = c.Brand.Name(c.DefaultLang)
	return a.String()
}

// Dump writes the effective configuration, one KEY=value line per setting with where the
// value came from; secrets and passwords in URLs are masked.
func (c *Config) Dump(w io.Writer) {
	for _, s := range settings {
		v := c.raw[s.Env]
		switch {
		case v == "":
		case s.Env == "KILT_DATABASE_URL", s.Env == "KILT_SMTP_URL":
			v = MaskURL(v)
		case s.Secret:
			v = "****** (set)"
		}
		fmt.Fprintf(w, "%s=%s\t# %s\n", s.Env, v, c.sources[s.Env])
	}
	if c.Secret == nil {
		fmt.Fprintln(w, "# server secret: generated and kept in the database")
	}
}

// MaskURL hides the password of a URL ("postgres://kilt:******@db/kilt").
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// An unparsable URL may hold a password anywhere (an unescaped '/' in it, say):
		// show the scheme only.
		scheme, _, _ := strings.Cut(raw, ":")
		return scheme + "://******"
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxxx")
		return strings.Replace(u.String(), "xxxxxx", "******", 1)
	}
	return raw
}

// loopbackListen reports whether a host:port listen address is reachable only from this
// machine: localhost or a loopback IP. An empty host or 0.0.0.0 listens everywhere.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func parseListen(dst *string, v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("want host:port, e.g. 127.0.0.1:8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	*dst = v
	return nil
}

func parseBaseURL(c *Config, v string) error {
	if v == "" {
		return nil // crossCheck says it is required
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http:// or https:// URL, e.g. https://id.example.kz")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("must not carry a query, fragment or user")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c.BaseURL = u
	return nil
}

func parseDatabaseURL(c *Config, v string) error {
	switch {
	case strings.HasPrefix(v, "sqlite:") && len(v) > len("sqlite:"):
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err != nil {
			return errors.New("not a valid postgres:// URL")
		}
	default:
		return errors.New("want sqlite:PATH or postgres://user:pass@host:5432/db")
	}
	c.DatabaseURL = v
	return nil
}

// minSecretLen keeps keys derived from the secret at full strength.
const minSecretLen = 32

func parseSecret(c *Config, v, name string) error {
	if v == "" {
		return nil
	}
	if len(v) < minSecretLen {
		return fmt.Errorf("%s must be at least %d characters (e.g. `openssl rand -base64 48`)", name, minSecretLen)
	}
	c.Secret = []byte(v)
	return nil
}

func parseSecretFile(c *Config, v string) error {
	if v == "" {
		return nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return fmt.Errorf("cannot read the secret file: %v", errors.Unwrap(err))
	}
	return parseSecret(c, strings.TrimSpace(string(b)), "the secret in KILT_SECRET_FILE")
}

func parseHTTPURL(dst *string, v string) error {
	if v == "" {
		*dst = ""
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http:// or https:// URL")
	}
	*dst = strings.TrimSuffix(v, "/")
	return nil
}

func parseCountries(c *Config, v string) error {
	c.SMSCountries = nil
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !isRegion(f) {
			return fmt.Errorf("%q is not a two-letter upper-case country code", f)
		}
		c.SMSCountries = append(c.SMSCountries, f)
	}
	if len(c.SMSCountries) == 0 {
		return errors.New("want at least one country, e.g. KZ")
	}
	return nil
}

func isRegion(v string) bool {
	return len(v) == 2 && !strings.ContainsFunc(v, func(r rune) bool { return r < 'A' || r > 'Z' })
}

func parseRegion(c *Config, v string) error {
	if !isRegion(v) {
		return errors.New("want a two-letter upper-case country code, e.g. KZ")
	}
	c.PhoneRegion = v
	return nil
}

func parseProxies(c *Config, v string) error {
	c.TrustedProxies = nil
	if v == "" {
		return nil
	}
	var bad []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		bad = append(bad, strconv.Quote(f))
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("not an address or CIDR prefix: %s", strings.Join(bad, ", "))
	}
	return nil
}

// Rate is a limit: at most Count in any Period (Count 0: off).
type Rate struct {
	Count  int
	Period time.Duration
}

func parseRate(dst *Rate, v string) error {
	n, p, ok := strings.Cut(v, "/")
	count, err := strconv.Atoi(n)
	period, perr := time.ParseDuration(p)
	if !ok || err != nil || perr != nil || count < 0 || count > 1_000_000 || period < time.Second || period > 30*24*time.Hour {
		return errors.New("want COUNT/PERIOD, e.g. 5/1h or 10/24h: COUNT from 0 (the limit off) to 1000000, PERIOD from 1s to 720h")
	}
	*dst = Rate{Count: count, Period: period}
	return nil
}

func oneOf(dst *string, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
}

func parseInt(dst *int, v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("want a whole number from %d to %d", lo, hi)
	}
	*dst = n
	return nil
}

func parseUint32(dst *uint32, v string, lo, hi uint32) error {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || uint32(n) < lo || uint32(n) > hi {
		return fmt.Errorf("want a whole number from %d to %d", lo, hi)
	}
	*dst = uint32(n)
	return nil
}

func parseDuration(dst *time.Duration, v string, lo, hi time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return fmt.Errorf("want a duration from %v to %v, e.g. 30m", lo, hi)
	}
	*dst = d
	return nil
}

// Reference renders every setting as a Markdown table: variable, flag, default (and the
// --dev default), meaning. docs/deploy.md embeds it; a test keeps the two equal.
func Reference() string {
	var b strings.Builder
	b.WriteString("| variable | flag | default | meaning |\n|---|---|---|---|\n")
	for _, s := range Settings() {
		def := "—"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		if s.DevDefault != "" {
			def += " (`--dev`: `" + s.DevDefault + "`)"
		}
		usage := strings.ReplaceAll(s.Usage, "|", "\\|")
		if s.Secret {
			usage += " *(secret: masked by `kilt config check`)*"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", s.Env, s.Flag, def, usage)
	}
	return b.String()
}
