package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"kilt/internal/kilttest"
	"kilt/internal/password"
	"kilt/internal/sqlstore/pgtest"
)

func TestMain(m *testing.M) {
	// The floor's server is this binary run again (floor.go).
	if code, ok := floorChild(os.Getenv, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(pgtest.Run(m))
}

// cheapArgon2 is the cost kilttest runs the service at; accounts are made at the same cost,
// or the first sign-in of each would re-hash.
var cheapArgon2 = map[string]string{"KILT_ARGON2_MEMORY": "8192", "KILT_ARGON2_TIME": "1"}

func runTool(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, &o, &e)
	return code, o.String(), e.String()
}

// TestLogin runs the login scenario end to end against a real Kilt: accounts created in
// its database, 50 sign-ins from 4 clients, every one a 201 — and a second run on the same
// database reuses the accounts.
func TestLogin(t *testing.T) {
	noIPLimit := map[string]string{"KILT_LIMIT_LOGIN_IP": "0/1m"}
	e := kilttest.Start(t, "sqlite", noIPLimit)
	env := map[string]string{}
	for k, v := range cheapArgon2 {
		env[k] = v
	}
	env["KILT_LIMIT_LOGIN_IP"] = noIPLimit["KILT_LIMIT_LOGIN_IP"]
	args := []string{"--url", e.URL, "--database", e.DatabaseURL, "--count", "50", "--concurrency", "4",
		"--pid", strconv.Itoa(os.Getpid()), "--json", "login"}
	for _, want := range []string{"4 created, 0 reused", "0 created, 4 reused"} {
		code, stdout, stderr := runTool(t, env, args...)
		if code != exitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
		var r Result
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("decoding the JSON result: %v\n%s", err, stdout)
		}
		if r.Requests != 50 || r.Statuses["201"] != 50 || len(r.Statuses) != 1 || len(r.Errors) != 0 {
			t.Errorf("requests %d, statuses %v, errors %v, want 50 × 201 and nothing else", r.Requests, r.Statuses, r.Errors)
		}
		if r.Stopped != stoppedByCount {
			t.Errorf("stopped %q, want %q", r.Stopped, stoppedByCount)
		}
		if r.Throughput <= 0 || r.Latencies.P50 <= 0 || r.Latencies.Max < r.Latencies.P99 || r.Latencies.P99 < r.Latencies.P50 {
			t.Errorf("throughput %v, latency %+v, want positive and ordered", r.Throughput, r.Latencies)
		}
		if r.Server == nil || r.Server.CPUSeconds <= 0 || r.Server.PeakRSSMiB <= 0 {
			t.Errorf("server usage %+v, want CPU and RSS measured (the server runs in this process)", r.Server)
		}
		if m := r.Machine; m == nil || m.Cores < 1 || math.Abs(m.Busy+m.Idle+m.IOWait-float64(m.Cores)) > 1e-6 ||
			math.Abs(m.User+m.Kernel-m.Busy) > 1e-6 || m.OtherMS == nil {
			t.Errorf("machine usage %+v, want the cores accounted for and the others' share", r.Machine)
		}
		if !strings.Contains(stderr, "machine CPU") || !strings.Contains(stderr, "other processes") {
			t.Errorf("the table does not show the machine's CPU:\n%s", stderr)
		}
		if !strings.Contains(stderr, "status 201") || !strings.Contains(stderr, "  50") {
			t.Errorf("the table (on stderr with --json) does not show 50 × 201:\n%s", stderr)
		}
		if strings.Contains(stdout+stderr, loadPassword) {
			t.Error("the output shows the accounts' password")
		}
	}
}

// TestLoginNeedsDatabase: without --database the scenario cannot create its accounts and
// says so instead of guessing the database.
func TestLoginNeedsDatabase(t *testing.T) {
	code, _, stderr := runTool(t, cheapArgon2, "--url", "http://127.0.0.1:1", "--count", "1", "login")
	if code != exitFailed || !strings.Contains(stderr, "--database") {
		t.Errorf("exit %d, stderr %q, want %d and a word about --database", code, stderr, exitFailed)
	}
}

// TestRefusesRemoteTarget: nothing is prepared or sent when the target is not loopback.
func TestRefusesRemoteTarget(t *testing.T) {
	code, _, stderr := runTool(t, cheapArgon2, "--url", "http://10.0.0.1:8080", "--database", "sqlite:"+t.TempDir()+"/x.db", "login")
	if code != exitUsage || !strings.Contains(stderr, "refused") {
		t.Errorf("exit %d, stderr %q, want %d and a refusal", code, stderr, exitUsage)
	}
}

// TestArgon2 measures the raw rate at the cheap cost and reports the ratio.
func TestArgon2(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	code, stdout, stderr := runTool(t, cheapArgon2, "--url", e.URL, "--database", e.DatabaseURL,
		"--count", "10", "--concurrency", "2", "--argon2", "--argon2-time", "200ms", "login")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"argon2id raw", "m=8192,t=1,p=1", "login / raw", "before the run", "after"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table does not show %q:\n%s", want, stdout)
		}
	}
}

// TestSetArgon2 checks the arithmetic: the raw rate is over both windows, and the ratio is
// the run's successes per second against it.
func TestSetArgon2(t *testing.T) {
	r := &Result{SuccessRate: 45}
	p := password.Params{Memory: 8192, Time: 1, Threads: 1}
	r.setArgon2(rawRate{Params: p, Workers: 2, Hashes: 100, Wall: 2 * time.Second},
		rawRate{Params: p, Workers: 2, Hashes: 50, Wall: time.Second})
	a := r.Argon2
	if a.Hashes != 150 || a.Seconds != 3 || a.PerSecond != 50 || a.BeforePerSecond != 50 || a.AfterPerSecond != 50 {
		t.Errorf("got %+v, want 150 hashes in 3 s, 50/s before, after and overall", *a)
	}
	if a.RatioPercent != 90 {
		t.Errorf("ratio %.2f %%, want 90 %%", a.RatioPercent)
	}
	r.setArgon2(rawRate{Params: p, Hashes: 90, Wall: time.Second}, rawRate{Params: p, Hashes: 10, Wall: time.Second})
	if a := r.Argon2; a.PerSecond != 50 || a.BeforePerSecond != 90 || a.AfterPerSecond != 10 {
		t.Errorf("got %+v, want 50/s overall, 90/s before, 10/s after", *a)
	}
}
