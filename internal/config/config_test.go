package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string, opts Options) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return env[k] }, opts)
}

func TestDefaultsAndDev(t *testing.T) {
	c, err := load(t, []string{"--dev"}, nil, Options{Serve: true})
	if err != nil {
		t.Fatalf("dev config: %v", err)
	}
	if got, want := c.BaseURL.String(), "http://localhost:8080"; got != want {
		t.Errorf("base URL: got %q, want %q", got, want)
	}
	if c.Listen != "127.0.0.1:8080" || c.DatabaseURL != "sqlite:kilt-data/kilt.db" || c.DefaultLang != "kk" {
		t.Errorf("defaults: got listen %q db %q lang %q", c.Listen, c.DatabaseURL, c.DefaultLang)
	}
	if c.Argon2Memory != 19456 || c.Argon2Time != 2 || c.Argon2Threads != 1 {
		t.Errorf("argon2 defaults: got m=%d t=%d p=%d, want 19456/2/1", c.Argon2Memory, c.Argon2Time, c.Argon2Threads)
	}
	if c.SessionIdle != 30*time.Minute || c.SessionLifetime != 12*time.Hour {
		t.Errorf("session defaults: got %v/%v", c.SessionIdle, c.SessionLifetime)
	}
	if c.Secure() || c.Secret != nil || c.HashWorkers < 1 {
		t.Errorf("dev: secure %v, secret set %v, workers %d", c.Secure(), c.Secret != nil, c.HashWorkers)
	}
}

func TestPrecedenceFlagOverEnvOverDefault(t *testing.T) {
	env := map[string]string{"KILT_BASE_URL": "https://env.example.kz", "KILT_LISTEN": "127.0.0.1:9000",
		"KILT_SMTP_URL": "smtp://relay:25?starttls=false", "KILT_SMS_PROVIDER": "webhook", "KILT_SMS_WEBHOOK_URL": "http://127.0.0.1:9999/sms"}
	c, err := load(t, []string{"--listen", "127.0.0.1:9100"}, env, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9100" {
		t.Errorf("listen: got %q, want the flag's", c.Listen)
	}
	if c.BaseURL.String() != "https://env.example.kz" || !c.Secure() {
		t.Errorf("base URL: got %v, want the env's, secure", c.BaseURL)
	}
}

func TestEveryProblemReportedOnce(t *testing.T) {
	env := map[string]string{
		"KILT_LISTEN":          "nonsense",
		"KILT_DATABASE_URL":    "mysql://u:hunter2secret@h/db",
		"KILT_SECRET":          "short-secret-value",
		"KILT_DEFAULT_LANG":    "de",
		"KILT_ARGON2_MEMORY":   "12",
		"KILT_TRUSTED_PROXIES": "10.0.0.0/8, banana",
		"KILT_SESSION_IDLE":    "forever",
	}
	_, err := load(t, nil, env, Options{Serve: true})
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *Error", err)
	}
	want := []string{"KILT_LISTEN", "KILT_DATABASE_URL", "KILT_SECRET", "KILT_DEFAULT_LANG", "KILT_ARGON2_MEMORY",
		"KILT_TRUSTED_PROXIES", "KILT_SESSION_IDLE", "KILT_BASE_URL is required", "KILT_SMTP_URL is required",
		"KILT_SMS_PROVIDER is required"}
	if len(ce.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(ce.Problems), len(want), ce.Error())
	}
	for _, w := range want {
		if !strings.Contains(ce.Error(), w) {
			t.Errorf("no problem mentions %s:\n%s", w, ce.Error())
		}
	}
	for _, secret := range []string{"hunter2secret", "short-secret-value"} {
		if strings.Contains(ce.Error(), secret) {
			t.Errorf("error message shows the secret %q:\n%s", secret, ce.Error())
		}
	}
}

func TestBaseURLOnlyRequiredToServe(t *testing.T) {
	if _, err := load(t, nil, nil, Options{}); err != nil {
		t.Errorf("a non-serving command without base URL: %v", err)
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	long := strings.Repeat("s3cr3t-", 6)
	if err := os.WriteFile(file, []byte(long+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--dev"}, map[string]string{"KILT_SECRET_FILE": file}, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Secret) != long {
		t.Errorf("secret from file: got %d bytes, want %d", len(c.Secret), len(long))
	}
	_, err = load(t, []string{"--dev"}, map[string]string{"KILT_SECRET_FILE": file, "KILT_SECRET": long}, Options{Serve: true})
	if err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("both secret sources: got %v, want a 'both set' problem", err)
	}
}

func TestDumpMasksSecrets(t *testing.T) {
	env := map[string]string{
		"KILT_DATABASE_URL": "postgres://kilt:pa55word-xyz@db.internal:5432/kilt",
		"KILT_SECRET":       strings.Repeat("topsecret", 5),
	}
	c, err := load(t, []string{"--dev"}, env, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c.Dump(&buf)
	out := buf.String()
	for _, s := range []string{"pa55word-xyz", "topsecret"} {
		if strings.Contains(out, s) {
			t.Errorf("dump shows %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"postgres://kilt:******@db.internal:5432/kilt", "KILT_SECRET=****** (set)", "KILT_BASE_URL=http://localhost:8080"} {
		if !strings.Contains(out, s) {
			t.Errorf("dump lacks %q:\n%s", s, out)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := load(t, []string{"--dev", "--trusted-proxies", "10.1.2.3, 192.168.0.0/16,::1"}, nil, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if want := "10.1.2.3/32 192.168.0.0/16 ::1/128"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestSettingsHaveFlagsAndUsage(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings() {
		if !strings.HasPrefix(s.Env, "KILT_") || s.Usage == "" || !strings.HasPrefix(s.Flag, "--") {
			t.Errorf("setting %+v: want KILT_ name, usage and flag", s)
		}
		if seen[s.Flag] {
			t.Errorf("flag %s declared twice", s.Flag)
		}
		seen[s.Flag] = true
	}
}

func TestDeliverySettings(t *testing.T) {
	c, err := load(t, []string{"--dev"}, nil, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.SMSProvider != "log" || c.SMTPURL != "" || strings.Join(c.SMSCountries, ",") != "KZ" || c.Timezone.String() != "Asia/Almaty" {
		t.Errorf("dev delivery defaults: provider %q smtp %q countries %v tz %v", c.SMSProvider, c.SMTPURL, c.SMSCountries, c.Timezone)
	}
	_, err = load(t, []string{"--dev", "--sms-provider", "twilio", "--twilio-account-sid", "AC1", "--sms-countries", "KZ,ru"}, nil, Options{Serve: true})
	for _, want := range []string{"KILT_TWILIO_AUTH_TOKEN is required", "KILT_TWILIO_FROM is required", `"ru" is not a two-letter`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want a problem %q", err, want)
		}
	}
	env := map[string]string{"KILT_SMTP_URL": "smtp://kilt:m41l-pa55@mail.example.kz:587"}
	c, err = load(t, []string{"--dev"}, env, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c.Dump(&buf)
	if strings.Contains(buf.String(), "m41l-pa55") || !strings.Contains(buf.String(), "smtp://kilt:******@mail.example.kz:587") {
		t.Errorf("dump of the SMTP URL:\n%s", buf.String())
	}
}

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://kilt:secret@db:5432/kilt", "postgres://kilt:******@db:5432/kilt"},
		{"postgres://db:5432/kilt", "postgres://db:5432/kilt"},
		{"smtp://u:pa/ss%zz@mail:587", "smtp://******"},
		{"sqlite:kilt-data/kilt.db", "sqlite:kilt-data/kilt.db"},
	}
	for _, tt := range tests {
		if got := MaskURL(tt.in); got != tt.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPprofNeedsMetricsListener(t *testing.T) {
	_, err := load(t, []string{"--dev"}, map[string]string{"KILT_METRICS_PPROF": "true"}, Options{Serve: true})
	if err == nil || !strings.Contains(err.Error(), "needs KILT_METRICS_LISTEN") {
		t.Errorf("pprof without a metrics listener: got %v", err)
	}
	_, err = load(t, []string{"--dev"}, map[string]string{"KILT_METRICS_PPROF": "maybe"}, Options{Serve: true})
	if err == nil || !strings.Contains(err.Error(), "KILT_METRICS_PPROF") {
		t.Errorf("KILT_METRICS_PPROF=maybe: got %v", err)
	}
	c, err := load(t, []string{"--dev"}, map[string]string{"KILT_METRICS_PPROF": "true", "KILT_METRICS_LISTEN": "127.0.0.1:9100"}, Options{Serve: true})
	if err != nil || !c.Pprof {
		t.Errorf("pprof with a metrics listener: %v, on=%v", err, c != nil && c.Pprof)
	}
}

// TestDevRefusesNonLoopbackListen: --dev serves /dev/outbox (every code and link), so it
// must refuse to listen where another machine could reach it.
func TestDevRefusesNonLoopbackListen(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		ok     bool
	}{
		{"default", "", true},
		{"ipv4 loopback", "127.0.0.1:9000", true},
		{"other ipv4 loopback", "127.0.0.2:9000", true},
		{"ipv6 loopback", "[::1]:9000", true},
		{"localhost", "localhost:9000", true},
		{"mapped loopback", "[::ffff:127.0.0.1]:9000", true},
		{"all interfaces", ":9000", false},
		{"unspecified ipv4", "0.0.0.0:9000", false},
		{"unspecified ipv6", "[::]:9000", false},
		{"lan address", "192.168.1.10:9000", false},
		{"host name", "example.kz:9000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			if tt.listen != "" {
				args = []string{"--listen", tt.listen}
			}
			_, err := load(t, append([]string{"--dev"}, args...), nil, Options{Serve: true})
			if tt.ok {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(ce.Problems[0], "not a loopback address") ||
				!strings.Contains(ce.Problems[0], "/dev/outbox") {
				t.Fatalf("got %v, want one problem naming the loopback rule and /dev/outbox", err)
			}
			// Without --dev the same address is allowed (production listens where told).
			env := map[string]string{"KILT_BASE_URL": "https://id.example.kz", "KILT_SMTP_URL": "smtp://relay:25",
				"KILT_SMS_PROVIDER": "webhook", "KILT_SMS_WEBHOOK_URL": "http://127.0.0.1:9999/sms"}
			if _, err := load(t, args, env, Options{Serve: true}); err != nil {
				t.Errorf("without --dev: got %v, want no error", err)
			}
		})
	}
}

// TestBrandSettings: the brand's settings reach the brand, and its problems are listed with
// every other problem of the configuration, each once.
func TestBrandSettings(t *testing.T) {
	c, err := load(t, []string{"--brand-name-kk", "Әкімдік"}, map[string]string{"KILT_BRAND_NAME": "Akimat",
		"KILT_BRAND_COLOR": "#14532d", "KILT_SUPPORT_CONTACT": "1414", "KILT_DEFAULT_LANG": "ru"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Brand.Name("kk") != "Әкімдік" || c.Brand.Name("ru") != "Akimat" || c.Brand.Support != "1414" || c.Brand.Palette.Accent != "#14532d" {
		t.Errorf("brand: %q %q %q %+v", c.Brand.Name("kk"), c.Brand.Name("ru"), c.Brand.Support, c.Brand.Palette)
	}
	if got := c.MailSender(); got != "\"Akimat\" <no-reply@localhost>" {
		t.Errorf("sender %q, want the Russian name (the default language) on the default address", got)
	}
	_, err = load(t, nil, map[string]string{"KILT_BRAND_COLOR": "#ffffff", "KILT_BRAND_LOGO": "/nonexistent/logo.svg",
		"KILT_DEFAULT_LANG": "fr"}, Options{})
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("got %v, want three problems: the language, the colour and the logo", err)
	}
	for _, want := range []string{"KILT_DEFAULT_LANG", "KILT_BRAND_COLOR \"#ffffff\"", "KILT_BRAND_LOGO \"/nonexistent/logo.svg\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem about %s in %v", want, err)
		}
	}
}
