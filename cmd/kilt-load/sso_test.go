package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestSSOScenarios runs each single sign-on scenario briefly against a real Kilt serving
// as `kilt serve` does: a client registered and its browsers signed in before the run, then
// every operation answered 200 — a whole code flow with its three timed steps, refreshes
// that rotate (a refresh token used twice would be refused and revoke its grant), userinfo,
// and introspections that find the token active — with the raw RS256 rate and the floor
// (for userinfo and introspection the read floor) reported when asked for.
func TestSSOScenarios(t *testing.T) {
	url, vars := startKilt(t, sinkEnv(freeAddr(t), freeAddr(t)))
	tests := []struct {
		scenario string
		extra    []string
		want     []string // in the table
		steps    []string
		class    string
	}{
		{"sso-code", []string{"--rs256", "--argon2-time", "100ms"}, []string{"rs256 raw", "sso-code / rs256", "code flows"},
			[]string{"authorize", "code", "token"}, ""},
		{"sso-refresh", []string{"--rs256", "--argon2-time", "100ms"}, []string{"rs256 raw", "sso-refresh / rs256"}, nil, ""},
		{"sso-userinfo", []string{"--floor", "100ms"}, []string{"sso-userinfo / floor", "rows read by primary key a request"}, nil, ""},
		{"sso-introspect", []string{"--floor", "100ms"}, []string{"sso-introspect / floor", "rows read by primary key a request"}, nil, "active"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			args := append([]string{"--url", url, "--database", vars["KILT_DATABASE_URL"], "--count", "20",
				"--concurrency", "2", "--json"}, tt.extra...)
			code, stdout, stderr := runTool(t, vars, append(args, tt.scenario)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			var r Result
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("decoding the JSON result: %v\n%s", err, stdout)
			}
			if r.Requests != 20 || r.Statuses["200"] != 20 || len(r.Statuses) != 1 || len(r.Errors) != 0 {
				t.Errorf("operations %d, statuses %v, errors %v, want 20 × 200 and nothing else", r.Requests, r.Statuses, r.Errors)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("the table does not show %q:\n%s", want, stderr)
				}
			}
			if len(tt.steps) > 0 {
				var got []string
				for _, s := range r.Steps {
					got = append(got, s.Name)
					if s.Count != 20 {
						t.Errorf("step %s timed %d times, want 20", s.Name, s.Count)
					}
				}
				if strings.Join(got, ",") != strings.Join(tt.steps, ",") {
					t.Errorf("steps %v, want %v", got, tt.steps)
				}
			}
			// userinfo and introspection only read: their floor is the read floor.
			if slices.Contains(tt.extra, "--floor") && (r.Floor == nil || !r.Floor.Read || r.Floor.PerSecond <= 0) {
				t.Errorf("floor %+v, want the read floor, measured", r.Floor)
			}
			if tt.class != "" && (len(r.Classes) != 1 || r.Classes[0].Name != tt.class) {
				t.Errorf("classes %+v, want only %q", r.Classes, tt.class)
			}
			if strings.Contains(stdout+stderr, loadPassword) {
				t.Error("the output shows the accounts' password")
			}
		})
	}
	// The ratio is the successes' rate over the raw rate.
	r := &Result{SuccessRate: 30}
	r.setRS256(rawSignRate{Workers: 2, Signatures: 100, Wall: 1e9}, rawSignRate{Workers: 2, Signatures: 20, Wall: 1e9})
	if a := r.RS256; a.PerSecond != 60 || a.RatioPercent != 50 || a.BeforePerSecond != 100 || a.AfterPerSecond != 20 {
		t.Errorf("got %+v, want 60/s overall (100 before, 20 after) and 50 %%", *a)
	}
}
