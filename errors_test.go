package kilt

import (
	"errors"
	"fmt"
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

func TestIsMatchesByKindAndCode(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"the sentinel itself", ErrNotFound, ErrNotFound, true},
		{"any not-found code matches the kind sentinel", E(KindNotFound, "no_such_message"), ErrNotFound, true},
		{"through wrapping", fmt.Errorf("loading: %w", E(KindNotFound, "no_such_account")), ErrNotFound, true},
		{"through Errorf", Errorf(KindNotFound, "x", "row %d", 7), ErrNotFound, true},
		{"another kind does not", E(KindGone, CodeNotFound), ErrNotFound, false},
		{"a plain error does not", io.EOF, ErrNotFound, false},
		{"an empty code is a kind sentinel", E(KindConflict, "taken"), &Error{Kind: KindConflict}, true},
		{"a specific code matches the same code", E(KindRule, "weak").WithDetails("n", 1), E(KindRule, "weak"), true},
		{"a specific code does not match another code", E(KindRule, "weak"), E(KindRule, "reused"), false},
		{"a specific code does not match another kind", E(KindInvalid, "weak"), E(KindRule, "weak"), false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tt.name, tt.err, tt.target, got, tt.want)
		}
	}
}

func TestBuildersLeaveTheirReceiverAlone(t *testing.T) {
	base := E(KindRateLimited, "slow").WithDetails("a", 1)
	d := base.WithDetails("b", 2)
	r := base.WithRetryAfter(time.Minute)
	if _, ok := base.Details["b"]; ok || base.RetryAfter != 0 {
		t.Errorf("base was modified: %+v", base)
	}
	if d == base || d.Details["a"] != 1 || d.Details["b"] != 2 {
		t.Errorf("WithDetails copy: %+v", d)
	}
	if r == base || r.RetryAfter != time.Minute || r.Details["a"] != 1 {
		t.Errorf("WithRetryAfter copy: %+v", r)
	}

	// The exported sentinel stays as declared, however often it is decorated.
	_ = ErrNotFound.WithDetails("id", 42).WithRetryAfter(time.Second)
	if ErrNotFound.Details != nil || ErrNotFound.RetryAfter != 0 {
		t.Errorf("ErrNotFound was modified: %+v", ErrNotFound)
	}
}
