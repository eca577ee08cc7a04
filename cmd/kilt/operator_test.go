package main

import (
	"strings"
	"testing"

	"kilt/internal/kilttest"
)

// TestOperatorCommands gives an account a role, changes it, lists and removes it, and
// refuses what is malformed — on SQLite and PostgreSQL.
func TestOperatorCommands(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := []string{"KILT_DATABASE_URL=" + kilttest.DatabaseURL(t, dialect), "KILT_LOG_FORMAT=json"}
			const pw = "Saryarka-Steppe-9"
			if out, errOut, code := runKilt(t, env, pw+"\n", "user", "add", "--email", "desk@example.kz", "--password-stdin"); code != 0 {
				t.Fatalf("user add: exit %d, %q %q", code, out, errOut)
			}
			out, errOut, code := runKilt(t, env, "", "operator", "add", "Desk@Example.kz", "--role", "support")
			if code != 0 || !strings.Contains(out, "account 1 is an operator (support)") {
				t.Fatalf("operator add: exit %d, %q %q", code, out, errOut)
			}
			if out, _, code = runKilt(t, env, "", "operator", "add", "desk@example.kz", "--role", "admin"); code != 0 {
				t.Fatalf("operator add (role change): exit %d %q", code, out)
			}
			out, _, code = runKilt(t, env, "", "operator", "list")
			if code != 0 || !strings.Contains(out, "desk@example.kz") || !strings.Contains(out, "admin") || !strings.Contains(out, "not yet") {
				t.Errorf("operator list: exit %d\n%s", code, out)
			}
			for _, bad := range [][]string{
				{"operator", "add", "desk@example.kz", "--role", "root"},
				{"operator", "add", "desk@example.kz"},
				{"operator", "remove"},
				{"operator", "frobnicate"},
			} {
				if _, _, code := runKilt(t, env, "", bad...); code != 2 {
					t.Errorf("%v: exit %d, want 2", bad, code)
				}
			}
			if _, errOut, code := runKilt(t, env, "", "operator", "add", "nobody@example.kz", "--role", "support"); code != 1 || !strings.Contains(errOut, "no such account") {
				t.Errorf("unknown account: exit %d %q, want 1 no such account", code, errOut)
			}
			if out, _, code = runKilt(t, env, "", "operator", "remove", "desk@example.kz"); code != 0 || !strings.Contains(out, "no longer an operator") {
				t.Errorf("operator remove: exit %d %q", code, out)
			}
			if _, errOut, code := runKilt(t, env, "", "operator", "remove", "desk@example.kz"); code != 1 || !strings.Contains(errOut, "not_operator") {
				t.Errorf("remove twice: exit %d %q, want 1 not_operator", code, errOut)
			}
			if out, _, _ = runKilt(t, env, "", "operator", "list"); strings.Contains(out, "desk@example.kz") {
				t.Errorf("a removed operator is listed:\n%s", out)
			}
		})
	}
}
