package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// noLimits turns off the recovery limits that the scenarios run into.
var noLimits = map[string]string{
	"KILT_LIMIT_RECOVERY_IP":         "0/1h",
	"KILT_LIMIT_RECOVERY_IDENTIFIER": "0/1h",
	"KILT_LIMIT_RECOVERY_ACCOUNT":    "0/1h",
	"KILT_LIMIT_SMS_NUMBER_HOUR":     "0/1h",
	"KILT_LIMIT_SMS_NUMBER_DAY":      "0/24h",
	"KILT_SMS_DAILY_BUDGET":          "0",
}

// withEnv returns the union of the maps, later ones winning.
func withEnv(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// runJSON runs the tool with --json and env, fails the test unless it exits 0, and returns
// the decoded result and the tool's stderr.
func runJSON(t *testing.T, env map[string]string, args ...string) (*Result, string) {
	t.Helper()
	code, stdout, stderr := runTool(t, env, append([]string{"--json", "--pid", strconv.Itoa(os.Getpid())}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var r Result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("decoding the JSON result: %v\n%s", err, stdout)
	}
	return &r, stderr
}

// class returns the result's class called name, failing the test when there is none.
func class(t *testing.T, r *Result, name string) ClassResult {
	t.Helper()
	for _, c := range r.Classes {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no class %q in %+v", name, r.Classes)
	return ClassResult{}
}

// checkLatencies fails the test unless the latencies are positive and ordered.
func checkLatencies(t *testing.T, what string, l latencyMS) {
	t.Helper()
	if l.P50 <= 0 || l.P95 < l.P50 || l.P99 < l.P95 || l.Max < l.P99 {
		t.Errorf("%s latency %+v, want positive and ordered", what, l)
	}
}

// TestRecoveryRequests runs recovery-email and recovery-phone end to end against a real
// Kilt whose limits are off: 20 requests from 4 clients, 10 for known identifiers and 10
// for unknown ones, every one a 202, timed apart; the messages to the known ones go to the
// tool's sink, and no warning is given.
func TestRecoveryRequests(t *testing.T) {
	for _, tt := range []struct {
		scenario string
		sink     func(*SinkUsage) *SinkCount
	}{
		{"recovery-email", func(u *SinkUsage) *SinkCount { return u.Mail }},
		{"recovery-phone", func(u *SinkUsage) *SinkCount { return u.SMS }},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			mail, sms := freeAddr(t), freeAddr(t)
			url, env := startKilt(t, withEnv(sinkEnv(mail, sms), noLimits))
			r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "20",
				"--concurrency", "4", "--smtp-listen", mail, "--sms-listen", sms, tt.scenario)
			if r.Requests != 20 || r.Statuses["202"] != 20 || len(r.Statuses) != 1 || len(r.Errors) != 0 {
				t.Errorf("requests %d, statuses %v, errors %v, want 20 × 202 and nothing else", r.Requests, r.Statuses, r.Errors)
			}
			for _, name := range []string{"known", "unknown"} {
				c := class(t, r, name)
				if c.Requests != 10 || c.Statuses["202"] != 10 || c.Errors != 0 {
					t.Errorf("%s: %d requests, statuses %v, %d errors; want 10 × 202", name, c.Requests, c.Statuses, c.Errors)
				}
				checkLatencies(t, name, c.Latencies)
			}
			if r.Sinks == nil || tt.sink(r.Sinks) == nil {
				t.Fatalf("sinks %+v, want the scenario's sink running", r.Sinks)
			}
			// Known requests are delivered after they are answered: some may come after the run.
			if n := tt.sink(r.Sinks).Messages; n > 10 {
				t.Errorf("the sink received %d messages, want at most one per known request (10)", n)
			}
			if strings.Contains(stderr, "warning") {
				t.Errorf("a warning although kilt runs as the scenario needs:\n%s", stderr)
			}
			if !strings.Contains(stderr, "4 created, 0 reused") {
				t.Errorf("stderr does not say the 4 accounts were created:\n%s", stderr)
			}
		})
	}
}

// TestRecoveryEmailLimited: with the server's default limits, the tool warns before the run
// and names the setting, and the report counts the 429s: the per-IP limit (30 an hour, every
// client is 127.0.0.1) lets exactly 30 of 40 through. There are as many accounts as
// requests, so the per-identifier limit never refuses first.
func TestRecoveryEmailLimited(t *testing.T) {
	mail := freeAddr(t)
	url, env := startKilt(t, sinkEnv(mail, freeAddr(t)))
	r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "40",
		"--concurrency", "4", "--accounts", "40", "--smtp-listen", mail, "recovery-email")
	if r.Statuses["202"] != 30 || r.Statuses["429"] != 10 || len(r.Statuses) != 2 {
		t.Errorf("statuses %v, want 30 × 202 and 10 × 429", r.Statuses)
	}
	for _, want := range []string{"KILT_LIMIT_RECOVERY_IP=0/1h  (now 30/1h", "KILT_LIMIT_RECOVERY_IDENTIFIER=0/1h  (now 5/1h", "status 429"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

// TestForwardedFor: with --forwarded-for the requests come from several client addresses, as
// behind a proxy the server trusts, and the per-IP limit (here 1 an hour) counts each
// address apart: 5 addresses in turn let 5 of 20 requests through; then 20 addresses (the
// same 5 first) let the 15 new ones through. A server
// that does not trust the tool as a proxy counts every request for 127.0.0.1, and the tool
// warns of it.
func TestForwardedFor(t *testing.T) {
	mail := freeAddr(t)
	oneAnHour := map[string]string{"KILT_LIMIT_RECOVERY_IP": "1/1h", "KILT_LIMIT_RECOVERY_IDENTIFIER": "0/1h"}
	url, env := startKilt(t, withEnv(sinkEnv(mail, freeAddr(t)), oneAnHour, map[string]string{"KILT_TRUSTED_PROXIES": "127.0.0.1"}))
	for _, tt := range []struct {
		addrs, allowed int
	}{{5, 5}, {20, 15}} {
		r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "20",
			"--concurrency", "4", "--accounts", "20", "--smtp-listen", mail, "--forwarded-for", fmt.Sprint(tt.addrs), "recovery-email")
		if r.Statuses["202"] != int64(tt.allowed) || r.Statuses["429"] != int64(20-tt.allowed) {
			t.Errorf("%d addresses: statuses %v, want %d × 202 and the rest 429", tt.addrs, r.Statuses, tt.allowed)
		}
		if r.ForwardedFor != tt.addrs || !regexp.MustCompile(fmt.Sprintf(`client addresses +%d in turn`, tt.addrs)).MatchString(stderr) {
			t.Errorf("%d addresses: the report says %d:\n%s", tt.addrs, r.ForwardedFor, stderr)
		}
		if strings.Contains(stderr, "KILT_TRUSTED_PROXIES") {
			t.Errorf("a warning about KILT_TRUSTED_PROXIES although the server trusts 127.0.0.1:\n%s", stderr)
		}
	}

	url, env = startKilt(t, withEnv(sinkEnv(mail, freeAddr(t)), oneAnHour))
	r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "6",
		"--concurrency", "2", "--accounts", "6", "--smtp-listen", mail, "--forwarded-for", "6", "recovery-email")
	if r.Statuses["202"] != 1 || r.Statuses["429"] != 5 {
		t.Errorf("untrusted: statuses %v, want 1 × 202 and 5 × 429", r.Statuses)
	}
	if !strings.Contains(stderr, "KILT_TRUSTED_PROXIES=127.0.0.1  (now unset") {
		t.Errorf("untrusted: no warning about KILT_TRUSTED_PROXIES:\n%s", stderr)
	}
}

func TestForwardedAddr(t *testing.T) {
	for i, want := range map[int]string{0: "198.18.0.0", 1: "198.18.0.1", 258: "198.18.1.2", 1 << 16: "198.19.0.0", maxForwardedFor - 1: "198.19.255.255"} {
		if got := forwardedAddr(i); got != want {
			t.Errorf("forwardedAddr(%d) = %s, want %s", i, got, want)
		}
		if !netip.MustParsePrefix(forwardedBlock).Contains(netip.MustParseAddr(forwardedAddr(i))) {
			t.Errorf("forwardedAddr(%d) is outside %s", i, forwardedBlock)
		}
	}
}

// TestFullRecovery runs full-recovery end to end: 20 recoveries from 3 clients over 6
// accounts (so each account's password changes three or four times, and every new one must
// pass the history rule), every one completed with a 204, each step timed. A reset hashes
// several times (the history rule, the new hash): under the race detector Argon2id is slow
// enough that the default wait for a hashing slot could run out, so the test waits longer.
func TestFullRecovery(t *testing.T) {
	mail, sms := freeAddr(t), freeAddr(t)
	url, env := startKilt(t, withEnv(sinkEnv(mail, sms), noLimits, map[string]string{"KILT_HASH_WAIT": "30s"}))
	r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "20",
		"--concurrency", "3", "--accounts", "6", "--smtp-listen", mail, "--sms-listen", sms, "full-recovery")
	if r.Requests != 20 || r.Statuses["204"] != 20 || len(r.Statuses) != 1 || len(r.Errors) != 0 {
		t.Fatalf("recoveries %d, statuses %v, errors %v, want 20 × 204 and nothing else\n%s", r.Requests, r.Statuses, r.Errors, stderr)
	}
	if c := class(t, r, "completed"); c.Requests != 20 || len(r.Classes) != 1 {
		t.Errorf("classes %+v, want 20 completed and nothing else", r.Classes)
	}
	var steps []string
	for _, s := range r.Steps {
		steps = append(steps, s.Name)
		if s.Count != 20 {
			t.Errorf("step %s: %d, want 20", s.Name, s.Count)
		}
		checkLatencies(t, "step "+s.Name, s.Latencies)
	}
	if got, want := strings.Join(steps, ","), "request,code,verify,reset"; got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
	if r.Unit != "recoveries" || r.SuccessRate <= 0 {
		t.Errorf("unit %q, success rate %v, want recoveries and > 0", r.Unit, r.SuccessRate)
	}
	checkLatencies(t, "recovery", r.Latencies)
	if r.Sinks == nil || r.Sinks.SMS == nil || r.Sinks.SMS.Messages < 20 {
		t.Errorf("sinks %+v, want at least the 20 codes at the SMS sink", r.Sinks)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("a warning although kilt runs as the scenario needs:\n%s", stderr)
	}
}

// TestFullRecoveryStopsBeforeTheCodeChecks: a number takes 30 code checks an hour, so one
// client on one account completes 30 recoveries and then says its accounts are used up —
// it never sends the 31st, which the server would answer 429 at the verify step (a 429
// measured as a recovery's latency was the median of a loadrun on a fast machine).
func TestFullRecoveryStopsBeforeTheCodeChecks(t *testing.T) {
	mail, sms := freeAddr(t), freeAddr(t)
	url, env := startKilt(t, withEnv(sinkEnv(mail, sms), noLimits, map[string]string{"KILT_HASH_WAIT": "30s"}))
	code, stdout, stderr := runTool(t, env, "--json", "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "32",
		"--concurrency", "1", "--accounts", "1", "--smtp-listen", mail, "--sms-listen", sms, "full-recovery")
	var r Result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("exit %d, decoding the JSON result: %v\n%s", code, err, stderr)
	}
	if r.Statuses["204"] != int64(checksPerNumber) || r.Statuses["429"] != 0 {
		t.Errorf("statuses %v, want %d × 204 and no 429\n%s", r.Statuses, checksPerNumber, stderr)
	}
	if c := class(t, &r, "accounts used up"); c.Requests != 2 {
		t.Errorf("class accounts used up: %+v, want the 2 operations past the 30th", c)
	}
}

// TestFullRecoveryNeedsAccounts: clients sharing accounts could take each other's codes;
// the scenario refuses before anything is sent.
func TestFullRecoveryNeedsAccounts(t *testing.T) {
	code, _, stderr := runTool(t, cheapArgon2, "--url", "http://127.0.0.1:1", "--database", "sqlite:"+t.TempDir()+"/x.db",
		"--concurrency", "4", "--accounts", "2", "--smtp-listen", "127.0.0.1:0", "--sms-listen", "127.0.0.1:0", "full-recovery")
	if code != exitFailed || !strings.Contains(stderr, "--accounts at least --concurrency") {
		t.Errorf("exit %d, stderr %q, want %d and a word about --accounts", code, stderr, exitFailed)
	}
}

// TestDelivery writes 20 e-mails into the outbox of a running Kilt and times them arriving
// at the tool's SMTP sink: all 20 arrive, over no more connections than the server keeps
// (KILT_OUTBOX_WORKERS, 4 by default): they are reused.
func TestDelivery(t *testing.T) {
	mail := freeAddr(t)
	url, env := startKilt(t, sinkEnv(mail, freeAddr(t)))
	r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "20",
		"--smtp-listen", mail, "delivery")
	if r.Requests != 20 || r.Stopped != stoppedByReceived || r.Unit != "messages" {
		t.Errorf("%d %s, stopped %q, want 20 messages, stopped %q\n%s", r.Requests, r.Unit, r.Stopped, stoppedByReceived, stderr)
	}
	if r.Throughput <= 0 || r.SuccessRate != r.Throughput {
		t.Errorf("throughput %v, success rate %v, want equal and positive", r.Throughput, r.SuccessRate)
	}
	checkLatencies(t, "delivery", r.Latencies)
	if m := r.Sinks.Mail; m == nil || m.Messages != 20 || m.Connections < 1 || m.Connections > 4 {
		t.Errorf("SMTP sink %+v, want 20 messages over 1 to 4 connections", m)
	}
	var notes []string
	for _, n := range r.Notes {
		notes = append(notes, n.Name+": "+n.Value)
	}
	if all := strings.Join(notes, "\n"); !strings.Contains(all, "e-mails written: 20 in") || !strings.Contains(all, "e-mails received: 20 of 20") {
		t.Errorf("notes do not count 20 written and 20 received:\n%s", all)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("a warning although kilt runs as the scenario needs:\n%s", stderr)
	}
}

// TestSinksListenOnLoopbackOnly: a sink address on another interface is refused before
// anything is prepared or sent.
func TestSinksListenOnLoopbackOnly(t *testing.T) {
	for _, flag := range []string{"--smtp-listen", "--sms-listen"} {
		for _, addr := range []string{"0.0.0.0:2525", ":2525", "10.0.0.1:2525", "example.com:25"} {
			t.Run(flag+" "+addr, func(t *testing.T) {
				code, _, stderr := runTool(t, cheapArgon2, "--url", "http://127.0.0.1:1", flag, addr, "login")
				if code != exitUsage || !strings.Contains(stderr, "refused") {
					t.Errorf("exit %d, stderr %q, want %d and a refusal", code, stderr, exitUsage)
				}
			})
		}
	}
}

// TestUsage: -h lists every scenario, and with each one that needs server settings the
// line to start kilt with, at the sink addresses given.
func TestUsage(t *testing.T) {
	code, _, stderr := runTool(t, nil, "--sms-listen", "127.0.0.1:3000", "-h")
	if code != exitOK {
		t.Fatalf("exit %d, want %d", code, exitOK)
	}
	for _, s := range scenarios() {
		if !strings.Contains(stderr, "  "+s.Name()+" ") {
			t.Errorf("the usage does not list %s:\n%s", s.Name(), stderr)
		}
	}
	for _, want := range []string{
		"start kilt with: KILT_LIMIT_RECOVERY_IP=0/1h KILT_LIMIT_RECOVERY_IDENTIFIER=0/1h KILT_SMTP_URL='smtp://127.0.0.1:2525?starttls=false'\n",
		"KILT_LIMIT_RECOVERY_ACCOUNT=0/1h KILT_LIMIT_SMS_NUMBER_HOUR=0/1h KILT_LIMIT_SMS_NUMBER_DAY=0/24h KILT_SMS_DAILY_BUDGET=0",
		"KILT_SMS_WEBHOOK_URL=http://127.0.0.1:3000/sms\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the usage does not say %q:\n%s", want, stderr)
		}
	}
}

// TestRecoveryFloorCalibrated: with --metrics, the floor of recovery-email is calibrated on
// the server: its statements a request are the server's database statements per 2xx answer
// of a first window of the scenario — the request's own transaction and the background work
// it causes, more than the 3 of the request's transaction alone — rounded; and the floor's
// server runs in a child process of the tool.
func TestRecoveryFloorCalibrated(t *testing.T) {
	mail, metrics := freeAddr(t), freeAddr(t)
	url, env := startKilt(t, withEnv(sinkEnv(mail, freeAddr(t)), noLimits, map[string]string{"KILT_METRICS_LISTEN": metrics}))
	r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--duration", "300ms",
		"--concurrency", "4", "--smtp-listen", mail, "--metrics", "http://"+metrics+"/metrics", "--floor", "200ms",
		"recovery-email")
	f := r.Floor
	if f == nil || f.Calibrated == nil {
		t.Fatalf("floor %+v, want one calibrated; stderr:\n%s", f, stderr)
	}
	if want := int(math.Round(*f.Calibrated)); f.Statements != want {
		t.Errorf("the floor does %d statements a request, want the %.2f measured, rounded: %d", f.Statements, *f.Calibrated, want)
	}
	if *f.Calibrated <= 3 {
		t.Errorf("calibrated at %.2f statements per 2xx, want more than the request's own 3", *f.Calibrated)
	}
	if !strings.Contains(f.Process, "child process") || strings.Contains(f.Process, fmt.Sprintf("pid %d)", os.Getpid())) {
		t.Errorf("the floor ran in %q, want a child process", f.Process)
	}
	if f.BeforePerSecond <= 0 || f.AfterPerSecond <= 0 || f.Ratio <= 0 {
		t.Errorf("floor %+v: want both windows served and a ratio", f)
	}
	// What the floor cost: its server's CPU read off its own process, not the tool's.
	if f.ServerMS == nil || *f.ServerMS <= 0 || f.ToolMS == nil || *f.ToolMS <= 0 {
		t.Errorf("floor CPU per request: server %v, tool %v; want both measured", f.ServerMS, f.ToolMS)
	}
	// On SQLite, the time its one writer was held per 2xx, read off the server's metrics.
	if p := r.PerSuccess; p == nil || p.WriteLockMS == nil || *p.WriteLockMS <= 0 || !strings.Contains(stderr, "SQLite's write lock held") {
		t.Errorf("per 2xx %+v: want SQLite's write lock time measured and reported", p)
	}
	if !strings.Contains(stderr, "CPU per request: its server") {
		t.Errorf("the report does not give the floor's CPU per request:\n%s", stderr)
	}
}
