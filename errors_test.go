package kilt

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{E(KindInvalid, "invalid_email"), "invalid_email"},
		{Errorf(KindConflict, "taken", "identifier %s", "x"), "taken: identifier x"},
		{Errorf(KindInternal, "db", "reading: %w", io.EOF), "db: reading: EOF"},
		{&Error{Kind: KindUnavailable, Code: "busy", Message: "sms budget", Err: io.EOF}, "busy: sms budget: EOF"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestKindAndCodeThroughWrapping(t *testing.T) {
	base := E(KindRateLimited, "login_throttled").WithRetryAfter(3*time.Second).WithDetails("n", 1)
	wrapped := errors.Join(errors.New("context"), base)
	if ErrorKind(wrapped) != KindRateLimited || ErrorCode(wrapped) != "login_throttled" {
		t.Errorf("got %v %q", ErrorKind(wrapped), ErrorCode(wrapped))
	}
	if ErrorKind(io.EOF) != KindInternal || ErrorCode(io.EOF) != "internal" {
		t.Errorf("a plain error must read as internal")
	}
	if !errors.Is(Errorf(KindInternal, "x", "wrap: %w", io.EOF), io.EOF) {
		t.Errorf("Errorf does not wrap its cause")
	}
	if e, _ := AsError(wrapped); e.RetryAfter != 3*time.Second || e.Details["n"] != 1 {
		t.Errorf("details lost: %+v", e)
	}
}

func TestTokensAndCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		tok, hash, err := NewToken()
		if err != nil || !WellFormedToken(tok) || len(hash) != 32 || string(HashToken(tok)) != string(hash) || seen[tok] {
			t.Fatalf("token %q: %v", tok, err)
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 42), strings.Repeat("A", 42) + "!", strings.Repeat("A", 44)} {
		if WellFormedToken(bad) {
			t.Errorf("WellFormedToken(%q) = true", bad)
		}
	}
	// Codes are uniform over the six digits: every first digit turns up.
	first := map[byte]int{}
	for range 2000 {
		c, err := NewCode()
		if err != nil || !WellFormedCode(c) {
			t.Fatalf("code %q: %v", c, err)
		}
		first[c[0]]++
	}
	if len(first) != 10 {
		t.Errorf("first digits seen: %d of 10", len(first))
	}
	for _, bad := range []string{"12345", "1234567", "12345a", "+12345", "-12345", "１２３４５６"} {
		if WellFormedCode(bad) {
			t.Errorf("WellFormedCode(%q) = true", bad)
		}
	}
	key := []byte("k")
	if string(CodeMAC(key, "flow-a", "123456")) == string(CodeMAC(key, "flow-b", "123456")) {
		t.Errorf("a code's MAC does not depend on what it is bound to")
	}
	id, _ := NewID()
	if !WellFormedID(id) || WellFormedID(id+"x") {
		t.Errorf("NewID %q", id)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("Қазақ", 3); got != "Қ" {
		t.Errorf("got %q, want a whole first rune", got)
	}
	if got := Truncate("abc", 5); got != "abc" {
		t.Errorf("got %q", got)
	}
}
