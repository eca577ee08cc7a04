package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestResetMix runs reset-mix against a real Kilt: sign-ins and full recoveries at once,
// each counted in its class and in the notes, with their ratio.
func TestResetMix(t *testing.T) {
	mail, sms := freeAddr(t), freeAddr(t)
	url, env := startKilt(t, withEnv(sinkEnv(mail, sms), noLimits,
		map[string]string{"KILT_HASH_WAIT": "30s", "KILT_LIMIT_LOGIN_IP": "0/1m"}))
	r, stderr := runJSON(t, env, "--url", url, "--database", env["KILT_DATABASE_URL"], "--count", "16",
		"--concurrency", "4", "--accounts", "4", "--smtp-listen", mail, "--sms-listen", sms, "reset-mix")
	if r.Statuses["201"]+r.Statuses["204"] != 16 || len(r.Errors) != 0 {
		t.Fatalf("statuses %v, errors %v, want 16 sign-ins (201) and resets (204) and nothing else\n%s", r.Statuses, r.Errors, stderr)
	}
	signIns, resets := class(t, r, "sign-in"), class(t, r, "reset")
	if signIns.Requests+resets.Requests != 16 || len(r.Classes) != 2 {
		t.Errorf("classes %+v, want sign-in and reset, 16 in all", r.Classes)
	}
	notes := map[string]string{}
	for _, n := range r.Notes {
		notes[n.Name] = n.Value
	}
	if notes["resets completed"] != fmt.Sprintf("%d by 2 clients", resets.Requests) ||
		notes["sign-ins completed"] != fmt.Sprintf("%d by 2 clients", signIns.Requests) ||
		!strings.Contains(notes["resets/s ÷ sign-ins/s, per client"], "(target ≥ 0.33)") {
		t.Errorf("notes %v, want the counts and their ratio", notes)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("a warning although kilt runs as the scenario needs:\n%s", stderr)
	}
}
