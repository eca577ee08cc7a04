package password

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kilt"
)

func TestCheck(t *testing.T) {
	p := DefaultPolicy()
	email := Subject{Email: "Tulpar.Rider+kilt@mail.kz"}
	cyrEmail := Subject{Email: "сұңқар@mail.kz"}
	phone := Subject{Phone: "+77011234567"}
	tests := []struct {
		name    string
		pw      string
		confirm string // "=" means the same as pw
		subject Subject
		want    []Violation
	}{
		// Everything holds.
		{name: "ascii", pw: "Tulpar-Sunkar-7"},
		{name: "space counts as special", pw: "Tulpar Sunkar 7"},
		{name: "Kazakh letter counts as special", pw: "Tulpar2024ә"},
		{name: "Cyrillic letter counts as special", pw: "Tulpar2024ж"},
		{name: "Kazakh: 8 code points, 12 bytes", pw: "Aa1!әәәә"},
		{name: "exactly the maximum", pw: strings.Repeat("Ab1!", 32)},
		{name: "full-width letters are Latin after NFKC", pw: "ＴＵＬＰＡＲ-sunkar-7"},
		{name: "repeat equal after NFKC", pw: "Ｔulpar-Sunkar-7", confirm: "Tulpar-Sunkar-7"},
		{name: "identifier too short to count", pw: "Tulpar-ab-Sunkar-7", subject: Subject{Email: "ab@mail.kz"}},
		{name: "other phone digits", pw: "Tulpar-7011234", subject: phone},

		// Length, in code points after NFKC.
		{name: "ascii too short", pw: "Tu1-Sun", want: []Violation{TooShort}},
		{name: "Kazakh: 7 code points, 11 bytes", pw: "Aa1!әәә", want: []Violation{TooShort}},
		{name: "Cyrillic 7 code points", pw: "Жа1!Qwz", want: []Violation{TooShort}},
		{name: "too long", pw: strings.Repeat("Ab1!", 32) + "x", want: []Violation{TooLong}},
		{name: "10 KB", pw: strings.Repeat("Ab1!", 2560), want: []Violation{TooLong}},

		// Classes.
		{name: "no upper", pw: "tulpar-sunkar-7", want: []Violation{NoUpper}},
		{name: "no lower", pw: "TULPAR-SUNKAR-7", want: []Violation{NoLower}},
		{name: "no digit", pw: "Tulpar-Sunkar", want: []Violation{NoDigit}},
		{name: "no special", pw: "TulparSunkar7", want: []Violation{NoSpecial}},
		{name: "Cyrillic only: no Latin letters", pw: "Жұлдыз123!", want: []Violation{NoUpper, NoLower}},
		{name: "Kazakh word: no Latin letters and common", pw: "Сәлем123!", want: []Violation{NoUpper, NoLower, Common}},
		{name: "Kazakh only, no digit", pw: "Жұлдыз-Көктем", want: []Violation{NoUpper, NoLower, NoDigit}},
		{name: "upper-case Cyrillic is not upper", pw: "ЖҰЛДЫЗ-tulpar-7", want: []Violation{NoUpper}},
		{name: "full-width digit is a digit", pw: "Tulpar-Sunkar-７"},

		// Common.
		{name: "Password1!", pw: "Password1!", want: []Violation{Common}},
		{name: "Qwerty123!", pw: "Qwerty123!", want: []Violation{Common}},
		{name: "P@ssw0rd", pw: "P@ssw0rd", want: []Violation{Common}},
		{name: "gfhjkm123A!", pw: "gfhjkm123A!", want: []Violation{Common}},
		{name: "Kilt2026!x", pw: "Kilt2026!x", want: []Violation{Common}},
		{name: "portal name in Kazakh", pw: "Менің-кілтім-7Ab", want: []Violation{Common}},
		{name: "portal name in leetspeak", pw: "P0rtal-Sunkar-7", want: []Violation{Common}},
		{name: "portal name on the wrong layout", pw: "ljkkfh-лшде-7A", want: []Violation{Common}},
		{name: "Kazakh common word with Latin letters", pw: "Қазақстан2024!Ab", want: []Violation{Common}},
		{name: "passes composition, local list", pw: "Qazaqstan2024!ә", want: []Violation{Common}},

		// Identifiers.
		{name: "e-mail local part", pw: "Tulpar.Rider+kilt-7A", subject: email, want: []Violation{Common, ContainsIdentifier}},
		{name: "e-mail local part without the tag", pw: "tulpar.RIDER-77", subject: email, want: []Violation{ContainsIdentifier}},
		{name: "Cyrillic e-mail local part", pw: "Tulpar-СҰҢҚАР-7", subject: cyrEmail, want: []Violation{ContainsIdentifier}},
		{name: "phone national number", pw: "Tulpar!87011234567", subject: phone, want: []Violation{ContainsIdentifier}},
		{name: "phone full digits", pw: "Tulpar+77011234567", subject: phone, want: []Violation{ContainsIdentifier}},
		{name: "short number, full digits", pw: "Tulpar-9951234", subject: Subject{Phone: "995 1234"}, want: []Violation{ContainsIdentifier}},
		{name: "phone in full-width digits", pw: "Tulpar!７０１１２３４５６７", subject: phone, want: []Violation{ContainsIdentifier}},

		// Repeat and input.
		{name: "mismatch", pw: "Tulpar-Sunkar-7", confirm: "Tulpar-Sunkar-8", want: []Violation{Mismatch}},
		{name: "empty repeat", pw: "Tulpar-Sunkar-7", confirm: "", want: []Violation{Mismatch}},
		{name: "invalid UTF-8", pw: "Tulpar-\xff-Sunkar7", want: []Violation{Invalid}},
		{name: "NUL", pw: "Tulpar\x00Sunkar-7", want: []Violation{Invalid}},
		{name: "newline", pw: "Tulpar\nSunkar-7", want: []Violation{Invalid}},
		{name: "C1 control", pw: "Tulpar\u0085Sunkar-7", want: []Violation{Invalid}},

		// Several at once, in the fixed order.
		{name: "empty", pw: "", want: []Violation{TooShort, NoUpper, NoLower, NoDigit, NoSpecial}},
		{name: "many", pw: "abc\x00", confirm: "abd", want: []Violation{Invalid, TooShort, NoUpper, NoDigit, Mismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			confirm := tt.confirm
			if confirm == "" && tt.name != "empty repeat" {
				confirm = tt.pw
			}
			got := p.Check(tt.pw, confirm, tt.subject)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q) (-want +got):\n%s", tt.pw, diff)
			}
		})
	}
}

func TestCheckPolicySettings(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		pw     string
		want   []Violation
	}{
		{name: "zero policy has the default lengths", policy: Policy{}, pw: "Tu1-Sun", want: []Violation{TooShort}},
		{name: "no blocklist", policy: Policy{}, pw: "Password1!"},
		{name: "context words without a blocklist", policy: Policy{ContextWords: []string{"Tulpar"}}, pw: "TULPAR-Sunkar-7x", want: []Violation{Common}},
		{name: "longer minimum", policy: Policy{MinLength: 16}, pw: "Tulpar-Sunkar-7", want: []Violation{TooShort}},
		{name: "shorter maximum", policy: Policy{MaxLength: 10}, pw: "Tulpar-Sunkar-7", want: []Violation{TooLong}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Check(tt.pw, tt.pw, Subject{})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q) (-want +got):\n%s", tt.pw, diff)
			}
		})
	}
}

func TestValidateError(t *testing.T) {
	h := newTestHasher(t)
	p := DefaultPolicy()
	if err := p.Validate(context.Background(), h, testPepper, "Tulpar-Sunkar-7", "Tulpar-Sunkar-7", Subject{}); err != nil {
		t.Fatalf("Validate of a good password: got %v, want nil", err)
	}
	err := p.Validate(context.Background(), h, testPepper, "password", "passw0rd", Subject{})
	e, ok := kilt.AsError(err)
	if !ok {
		t.Fatalf("Validate: got %v, want a *kilt.Error", err)
	}
	if e.Kind != kilt.KindRule || e.Code != string(NoUpper) {
		t.Errorf("kind and code: got %v %q, want rule %q", e.Kind, e.Code, NoUpper)
	}
	want := []string{"password_no_upper", "password_no_digit", "password_no_special", "password_common", "password_mismatch"}
	if diff := cmp.Diff(want, e.Details["violations"]); diff != "" {
		t.Errorf("details.violations (-want +got):\n%s", diff)
	}
	if strings.Contains(e.Error(), "password\"") || strings.Contains(e.Error(), "passw0rd") {
		t.Errorf("error %q contains the password", e)
	}
}

// TestValidateDoesNoHashing: a password that breaks a static rule, above all a too-long
// one, is refused without any work in the pool, even for an account with a history.
func TestValidateDoesNoHashing(t *testing.T) {
	ctx := context.Background()
	history := historyOf(t, newTestHasher(t), "Tulpar-Sunkar-7", "Sunkar-Tulpar-8")
	h := newTestHasher(t)
	p := DefaultPolicy()
	long := strings.Repeat("Ab1!", 2560) // 10 KB
	tests := []struct {
		name, pw, confirm, wantCode string
	}{
		{name: "10 KB", pw: long, confirm: long, wantCode: string(TooLong)},
		{name: "mismatch", pw: "Tulpar-Sunkar-7", confirm: "x", wantCode: string(Mismatch)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(ctx, h, testPepper, tt.pw, tt.confirm, Subject{History: history})
			if got := kilt.ErrorCode(err); got != tt.wantCode {
				t.Errorf("code: got %q, want %q", got, tt.wantCode)
			}
		})
	}
	if s := h.Pool().Stats(); s.Served != 0 || s.MaxBusy != 0 || s.Waits != 0 {
		t.Errorf("pool stats: got %+v, want no work at all", s)
	}
	if got := h.kdfRuns.Load(); got != 0 {
		t.Errorf("key derivations: got %d, want 0", got)
	}
}

func TestAddHistory(t *testing.T) {
	p := Policy{HistorySize: 3}
	var history []HistoryEntry
	for i := range 5 {
		history = p.AddHistory(history, HistoryEntry{PasswordHash: string(rune('a' + i))})
	}
	var got []string
	for _, e := range history {
		got = append(got, e.PasswordHash)
	}
	if diff := cmp.Diff([]string{"e", "d", "c"}, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	before := []HistoryEntry{{PasswordHash: "x"}, {PasswordHash: "y"}, {PasswordHash: "z"}}
	_ = p.AddHistory(before, HistoryEntry{PasswordHash: "w"})
	if before[0].PasswordHash != "x" {
		t.Errorf("AddHistory modified its argument: got %q first, want %q", before[0].PasswordHash, "x")
	}
}

func TestDescribe(t *testing.T) {
	raw, err := json.Marshal(DefaultPolicy().Describe())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"min_length":       8.0,
		"max_length":       128.0,
		"length_unit":      "code_points",
		"normalization":    "NFKC",
		"history_size":     6.0,
		"blocklist":        true,
		"identifier_check": true,
	} {
		if got[key] != want {
			t.Errorf("%s: got %v, want %v", key, got[key], want)
		}
	}
	if n, _ := got["blocklist_size"].(float64); n < 10000 {
		t.Errorf("blocklist_size: got %v, want at least 10000", got["blocklist_size"])
	}
	if s, _ := got["special_characters"].(string); !strings.Contains(s, "A-Z, a-z and 0-9") {
		t.Errorf("special_characters: got %q, want the definition", s)
	}
	var rules []string
	for _, r := range DefaultPolicy().Describe().Rules {
		rules = append(rules, r.Code)
	}
	want := []string{"password_invalid", "password_too_short", "password_too_long", "password_no_upper",
		"password_no_lower", "password_no_digit", "password_no_special", "password_common",
		"password_contains_identifier", "password_mismatch", "password_reused"}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	var classes []string
	for _, c := range DefaultPolicy().Describe().RequiredClasses {
		classes = append(classes, c.Name+":"+c.Code)
	}
	wantClasses := []string{"upper:password_no_upper", "lower:password_no_lower", "digit:password_no_digit", "special:password_no_special"}
	if diff := cmp.Diff(wantClasses, classes); diff != "" {
		t.Errorf("required classes (-want +got):\n%s", diff)
	}
	if d := (Policy{HistorySize: -1}).Describe(); d.Blocklist || d.HistorySize != 0 || d.Rules[len(d.Rules)-1].Code != string(Mismatch) {
		t.Errorf("policy without blocklist and history: got %+v", d)
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	p := DefaultPolicy()
	s := Subject{Email: "tulpar.rider@mail.kz", Phone: "+77011234567"}
	pws := []string{"Tulpar-Sunkar-7", "Password1!", "gfhjkm123A!", "Қазақстан2024!Ab", strings.Repeat("Ab1!", 32)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pw := pws[i%len(pws)]
		p.Check(pw, pw, s)
	}
}
