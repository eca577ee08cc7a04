package account

import (
	"strings"
	"testing"
	"time"

	"kilt"
)

func TestParseEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  Aigerim.N@Mail.KZ ", "Aigerim.N@mail.kz", true},
		{"user+tag@example.com", "user+tag@example.com", true},
		{"асель@почта.қз", "асель@почта.қз", true},
		{"no-at-sign", "", false},
		{"@example.kz", "", false},
		{"user@", "", false},
		{"user@localhost", "", false},
		{"user@@example.kz", "", false},
		{"us er@example.kz", "", false},
		{"user@example.kz\r\nBcc: x@evil.kz", "", false},
		{"user@exa\x00mple.kz", "", false},
		{".user@example.kz", "", false},
		{"us..er@example.kz", "", false},
		{"user@-example.kz", "", false},
		{"<user@example.kz>", "", false},
		{"\xff@example.kz", "", false},
	}
	for _, tt := range tests {
		got, err := ParseEmail(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && (kilt.ErrorKind(err) != kilt.KindInvalid || kilt.ErrorCode(err) != CodeInvalidEmail) {
			t.Errorf("ParseEmail(%q) error %v: want kind invalid, code invalid_email", tt.in, err)
		}
	}
}

func TestParsePhone(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"+7 701 123 45 67", "+77011234567", true},
		{"87011234567", "+77011234567", true},
		{"7011234567", "+77011234567", true},
		{"+7 (701) 123-45-67", "+77011234567", true},
		{"8 (727) 250 00 00", "+77272500000", true}, // Almaty landline: a valid number (mobile check is the SMS layer's)
		{"+7 701 123", "", false},
		{"12", "", false},
		{"phone", "", false},
		{"+7 701 123 45 67 ext 5", "", false},
		{"", "", false},
		{"+77011234567\n", "+77011234567", true},
		{"+49 2100 0000000000", "", false}, // valid to libphonenumber, but 16 digits: not E.164 (found by FuzzParsePhone)
		{"+49 30 1234567", "+49301234567", true},
	}
	for _, tt := range tests {
		got, err := ParsePhone(tt.in, "KZ")
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePhone(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseIdentifier(t *testing.T) {
	id, err := ParseIdentifier("User@Example.KZ", "KZ")
	if err != nil || id.Kind != Email || id.Key() != "user@example.kz" {
		t.Errorf("e-mail: got %+v key %q, %v", id, id.Key(), err)
	}
	id, err = ParseIdentifier("8 701 123 45 67", "KZ")
	if err != nil || id.Kind != Phone || id.Key() != "+77011234567" {
		t.Errorf("phone: got %+v, %v", id, err)
	}
	if _, err := ParseIdentifier("hello", "KZ"); kilt.ErrorCode(err) != CodeInvalidIdentifier {
		t.Errorf("garbage: got %v, want invalid_identifier", err)
	}
}

func TestMasking(t *testing.T) {
	if got := MaskEmail("aigerim@mail.kz"); got != "a***@mail.kz" {
		t.Errorf("MaskEmail: %q", got)
	}
	if got := MaskEmail("әсел@mail.kz"); got != "ә***@mail.kz" {
		t.Errorf("MaskEmail of a Kazakh address: %q", got)
	}
	if got := MaskPhone("+77011234567"); got != "+7********67" {
		t.Errorf("MaskPhone: %q", got)
	}
}

func TestThrottleWait(t *testing.T) {
	c := DefaultThrottle()
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		failures int
		after    time.Duration
		want     time.Duration
	}{
		{4, 0, 0},
		{5, 0, time.Second},
		{5, time.Second, 0},
		{6, 0, 2 * time.Second},
		{8, time.Second, 7 * time.Second},
		{20, 0, 15 * time.Minute},  // capped
		{500, 0, 15 * time.Minute}, // no overflow
		{20, 24 * time.Hour, 0},    // forgotten after the window
	}
	for _, tt := range tests {
		if got := c.wait(Throttle{Failures: tt.failures, LastFailedAt: last}, last.Add(tt.after)); got != tt.want {
			t.Errorf("wait(%d failures, %v later) = %v, want %v", tt.failures, tt.after, got, tt.want)
		}
	}
}

func TestParseEmailLengthAfterLowerCasing(t *testing.T) {
	// Ⱥ (2 bytes) lower-cases to ⱥ (3 bytes): 231 bytes in, 311 out — over the limit.
	in := strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("Ⱥ", 20)+".", 4) + "kz"
	if got, err := ParseEmail(in); err == nil {
		if _, err2 := ParseEmail(got); err2 != nil {
			t.Errorf("ParseEmail returned %d bytes it then refuses", len(got))
		}
	}
}
