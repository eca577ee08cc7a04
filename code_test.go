package kilt

import (
	"testing"
	"time"
)

func TestCheckCode(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	right, wrong := []byte("right-mac"), []byte("wrong-mac")
	tests := []struct {
		name         string
		code         OneTimeCode
		mac          []byte
		want         CodeResult
		wantAttempts int
		wantLive     bool
	}{
		{"right", OneTimeCode{MAC: right, ExpiresAt: now.Add(time.Minute)}, right, CodeMatched, 1, false},
		{"wrong", OneTimeCode{MAC: right, ExpiresAt: now.Add(time.Minute)}, wrong, CodeWrong, 1, true},
		{"the last wrong kills", OneTimeCode{MAC: right, Attempts: 4, ExpiresAt: now.Add(time.Minute)}, wrong, CodeWrong, 5, false},
		{"right as the last attempt", OneTimeCode{MAC: right, Attempts: 4, ExpiresAt: now.Add(time.Minute)}, right, CodeMatched, 5, false},
		{"no attempt left", OneTimeCode{MAC: right, Attempts: 5, ExpiresAt: now.Add(time.Minute)}, right, CodeSpent, 5, true},
		{"expired, not counted", OneTimeCode{MAC: right, ExpiresAt: now}, right, CodeExpired, 0, true},
		{"no code: counted as wrong", OneTimeCode{ExpiresAt: now.Add(time.Minute)}, right, CodeWrong, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.code
			got := CheckCode(&c, tt.mac, 5, now)
			if got != tt.want || c.Attempts != tt.wantAttempts || (c.MAC != nil) != tt.wantLive {
				t.Errorf("got %v, %d attempts, live %v; want %v, %d, %v", got, c.Attempts, c.MAC != nil, tt.want, tt.wantAttempts, tt.wantLive)
			}
		})
	}
}
