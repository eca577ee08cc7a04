package api_test

import (
	"fmt"
	"testing"

	"kilt/internal/kilttest"
)

// behindProxy trusts the loopback peer's X-Forwarded-For, so a test can speak from any
// address.
var behindProxy = map[string]string{"KILT_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"}

// TestIPv6ClientIsKeyedBySlash64: an IPv6 client picks any of the 2^64 addresses of its
// /64 for free, so the per-IP limits of registration and recovery count the /64 as one
// client; 60 requests from 60 addresses of one /64 pass only the limit.
func TestIPv6ClientIsKeyedBySlash64(t *testing.T) {
	forEachDialect(t, behindProxy, func(t *testing.T, e *kilttest.Env) {
		tests := []struct {
			name  string
			path  string
			body  func(i int) map[string]string
			limit int // the defaults: KILT_LIMIT_REGISTRATION_IP 20/1h, KILT_LIMIT_RECOVERY_IP 30/1h
		}{
			{"registration", "/api/v1/registrations", func(i int) map[string]string {
				return map[string]string{"email": fmt.Sprintf("r%d@mail.kz", i), "password": goodPassword, "password_confirm": goodPassword,
					"consent_version": kilttest.ConsentVersion}
			}, 20},
			{"recovery by e-mail", "/api/v1/recovery/email", func(i int) map[string]string {
				return map[string]string{"email": fmt.Sprintf("e%d@mail.kz", i)}
			}, 30},
			{"recovery by phone", "/api/v1/recovery/phone", func(i int) map[string]string {
				return map[string]string{"phone": fmt.Sprintf("+7701%07d", 1000000+i)}
			}, 30},
		}
		for n, tt := range tests {
			passed := 0
			for i := range 60 {
				ip := fmt.Sprintf("2001:db8:%x:1:%x:%x::1", n, i, i*7)
				r := e.Do(t, "POST", tt.path, tt.body(i), "X-Forwarded-For", ip)
				switch r.Status {
				case 202:
					passed++
				case 429:
				default:
					t.Fatalf("%s from %s: %d %s", tt.name, ip, r.Status, r.Body)
				}
			}
			if passed != tt.limit {
				t.Errorf("%s: %d of 60 requests from one /64 passed, want %d", tt.name, passed, tt.limit)
			}
			// Another /64 is another client.
			if r := e.Do(t, "POST", tt.path, tt.body(99), "X-Forwarded-For", fmt.Sprintf("2001:db8:%x:2::1", n)); r.Status != 202 {
				t.Errorf("%s from another /64: %d, want 202", tt.name, r.Status)
			}
		}
	})
}

// TestIPv6Slash48Tier: a client rotating through the /64s of its /48 meets the /48 tier,
// NetFactor (4) times the per-IP count.
func TestIPv6Slash48Tier(t *testing.T) {
	forEachDialect(t, behindProxy, func(t *testing.T, e *kilttest.Env) {
		passed := 0
		for i := range 200 {
			ip := fmt.Sprintf("2001:db8:48:%x::5", i)
			r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": fmt.Sprintf("n%d@mail.kz", i)}, "X-Forwarded-For", ip)
			if r.Status == 202 {
				passed++
			} else if r.Status != 429 {
				t.Fatalf("from %s: %d %s", ip, r.Status, r.Body)
			}
		}
		if want := 4 * 30; passed != want {
			t.Errorf("200 requests from 200 /64s of one /48: %d passed, want %d", passed, want)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "other@mail.kz"}, "X-Forwarded-For", "2001:db8:49::5"); r.Status != 202 {
			t.Errorf("from another /48: %d, want 202", r.Status)
		}
		// IPv4 is keyed as before, an IPv4-mapped address as its IPv4 address.
		passed = 0
		for i := range 40 {
			ip := "192.0.2.44"
			if i%2 == 1 {
				ip = "::ffff:192.0.2.44"
			}
			if r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": fmt.Sprintf("v%d@mail.kz", i)}, "X-Forwarded-For", ip); r.Status == 202 {
				passed++
			}
		}
		if passed != 30 {
			t.Errorf("40 requests from one IPv4 address, half IPv4-mapped: %d passed, want 30", passed)
		}
	})
}

// TestIPv6SignInKeyedBySlash64: the per-IP sign-in limit, checked before any hashing,
// counts one /64 as one client too.
func TestIPv6SignInKeyedBySlash64(t *testing.T) {
	env := map[string]string{"KILT_TRUSTED_PROXIES": behindProxy["KILT_TRUSTED_PROXIES"], "KILT_LIMIT_LOGIN_IP": "10/1m"}
	forEachDialect(t, env, func(t *testing.T, e *kilttest.Env) {
		counts := map[int]int{}
		for i := range 30 {
			r := e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": fmt.Sprintf("u%d@mail.kz", i), "password": "Wrong-Password-1"},
				"X-Forwarded-For", fmt.Sprintf("2001:db8:77:1:%x::9", i))
			counts[r.Status]++
		}
		if counts[401] != 10 || counts[429] != 20 {
			t.Errorf("30 sign-ins from 30 addresses of one /64: %v, want 10 × 401 and 20 × 429", counts)
		}
	})
}
