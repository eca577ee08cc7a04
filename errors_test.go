package kilt

import (
	"errors"
	"io"
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
