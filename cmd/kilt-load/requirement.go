package main

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"kilt/internal/config"
)

// A requirement is a setting the server must run with for a scenario to measure what it
// means to: the recovery limits off (or they answer 429 within seconds), its messages sent
// to the tool's sinks. The tool cannot see the server's settings; it reads them from its own
// environment, which should be the server's (see the usage text), and warns about every
// requirement that environment does not meet — before the run, so the 429s of the report
// do not come as a surprise.
type requirement struct {
	// Env is the variable, Want the value to start kilt with.
	Env, Want string
	// Why says what happens without it.
	Why string
	// met reports whether cfg meets the requirement.
	met func(cfg *config.Config) bool
	// now describes cfg's value.
	now func(cfg *config.Config) string
}

// largeLimit is a limit count that no run of the tool reaches in its period.
const largeLimit = 100_000

// limitOff requires the limit of env (read by get) to be off, or so large no run reaches it.
func limitOff(env, why string, period time.Duration, get func(*config.Config) config.Rate) requirement {
	return requirement{Env: env, Want: "0/" + shortDuration(period), Why: why,
		met: func(c *config.Config) bool { r := get(c); return r.Count == 0 || r.Count >= largeLimit },
		now: func(c *config.Config) string {
			r := get(c)
			return fmt.Sprintf("%d/%s", r.Count, shortDuration(r.Period))
		}}
}

// Requirements of the recovery request path, shared by the recovery scenarios.
var (
	needNoIPLimit = limitOff("KILT_LIMIT_RECOVERY_IP",
		"every client comes from 127.0.0.1: past the limit every request is answered 429",
		time.Hour, func(c *config.Config) config.Rate { return c.LimitRecoveryIP })
	needNoIdentifierLimit = limitOff("KILT_LIMIT_RECOVERY_IDENTIFIER",
		"the known identifiers are asked for again and again: past the limit they are answered 429",
		time.Hour, func(c *config.Config) config.Rate { return c.LimitRecoveryID })
	needNoAccountLimit = limitOff("KILT_LIMIT_RECOVERY_ACCOUNT",
		"past the limit an account's request is answered as usual but no code is sent, and the recovery waits for it in vain",
		time.Hour, func(c *config.Config) config.Rate { return c.LimitRecoveryAccount })
	needNoSMSHourLimit = limitOff("KILT_LIMIT_SMS_NUMBER_HOUR",
		"past the limit no code is sent to the number",
		time.Hour, func(c *config.Config) config.Rate { return c.LimitSMSNumberHour })
	needNoSMSDayLimit = limitOff("KILT_LIMIT_SMS_NUMBER_DAY",
		"past the limit no code is sent to the number",
		24*time.Hour, func(c *config.Config) config.Rate { return c.LimitSMSNumberDay })
	needNoSMSBudget = requirement{Env: "KILT_SMS_DAILY_BUDGET", Want: "0",
		Why: "once the day's budget is spent no SMS is sent",
		met: func(c *config.Config) bool { return c.SMSDailyBudget == 0 || c.SMSDailyBudget >= largeLimit },
		now: func(c *config.Config) string { return fmt.Sprint(c.SMSDailyBudget) }}
)

// needTrustedLoopback requires the server to believe X-Forwarded-For from the tool, for
// --forwarded-for.
var needTrustedLoopback = requirement{Env: "KILT_TRUSTED_PROXIES", Want: "127.0.0.1",
	Why: "with --forwarded-for the requests name their client in X-Forwarded-For, which kilt believes only from a trusted proxy: every request counts for 127.0.0.1",
	met: func(c *config.Config) bool {
		for _, p := range c.TrustedProxies {
			if p.Contains(netip.MustParseAddr("127.0.0.1")) {
				return true
			}
		}
		return false
	},
	now: func(c *config.Config) string {
		if len(c.TrustedProxies) == 0 {
			return "unset"
		}
		parts := make([]string, len(c.TrustedProxies))
		for i, p := range c.TrustedProxies {
			parts[i] = p.String()
		}
		return strings.Join(parts, ",")
	}}

// needMailSink requires the server to send e-mail to the mail sink on addr.
func needMailSink(addr, why string) requirement {
	want := smtpURL(addr)
	return requirement{Env: "KILT_SMTP_URL", Want: want, Why: why,
		met: func(c *config.Config) bool {
			u, err := url.Parse(c.SMTPURL)
			return err == nil && u.Scheme == "smtp" && u.Host == addr
		},
		// The URL may hold a password: only its host is shown.
		now: func(c *config.Config) string {
			if u, err := url.Parse(c.SMTPURL); err == nil && u.Host != "" {
				return "a server at " + u.Host
			}
			return "unset"
		}}
}

// needSMSSink requires the server to send SMS to the SMS sink on addr.
func needSMSSink(addr, why string) []requirement {
	want := smsURL(addr)
	return []requirement{
		{Env: "KILT_SMS_PROVIDER", Want: "webhook", Why: why,
			met: func(c *config.Config) bool { return c.SMSProvider == "webhook" },
			now: func(c *config.Config) string { return fmt.Sprintf("%q", c.SMSProvider) }},
		{Env: "KILT_SMS_WEBHOOK_URL", Want: want, Why: why,
			met: func(c *config.Config) bool { return c.SMSWebhookURL == want },
			now: func(c *config.Config) string { return fmt.Sprintf("%q", c.SMSWebhookURL) }},
	}
}

// shortDuration writes d without the zero minutes and seconds time.Duration.String adds:
// 1h, 24h, 30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// requirementsOf returns s's requirements with the sinks at a.
func requirementsOf(s Scenario, a sinkAddrs) []requirement {
	if r, ok := s.(requirer); ok {
		return r.Requirements(a)
	}
	return nil
}

// startWith is the environment to start kilt with, as one line: VAR=value VAR=value.
func startWith(reqs []requirement) string {
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.Env + "=" + shellQuote(r.Want)
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes v for a POSIX shell when it needs it (a URL's ?).
func shellQuote(v string) string {
	if strings.ContainsAny(v, "?*[]&;|<>()$`\\\"' ") {
		return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
	}
	return v
}

// warnUnmet writes a warning for each of reqs that cfg does not meet and reports how many.
func warnUnmet(w io.Writer, scenario string, reqs []requirement, cfg *config.Config) int {
	var unmet []requirement
	for _, r := range reqs {
		if !r.met(cfg) {
			unmet = append(unmet, r)
		}
	}
	if len(unmet) == 0 {
		return 0
	}
	fmt.Fprintf(w, "warning: by the environment kilt-load was given (give it the server's), kilt does not run as %s needs:\n", scenario)
	for _, r := range unmet {
		fmt.Fprintf(w, "  %s=%s  (now %s: %s)\n", r.Env, shellQuote(r.Want), r.now(cfg), r.Why)
	}
	return len(unmet)
}
