package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestClientKey(t *testing.T) {
	tests := []struct{ name, ip, want string }{
		{"ipv4 unchanged", "192.0.2.7", "192.0.2.7"},
		{"ipv4-mapped is ipv4", "::ffff:192.0.2.7", "192.0.2.7"},
		{"ipv6 by /64", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"same /64, other host", "2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"zone dropped", "fe80::1%eth0", "fe80::/64"},
		{"not an ip", "peer-without-port", "peer-without-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientKey(tt.ip); got != tt.want {
				t.Errorf("ClientKey(%q): got %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}

func TestClientChecks(t *testing.T) {
	l := Limit{Name: "recovery_ip", Count: 30, Period: time.Hour}
	if got := ClientChecks(l, "192.0.2.7"); len(got) != 1 || got[0].Limit != l || got[0].Key != "192.0.2.7" {
		t.Errorf("ipv4: got %+v, want one check keyed by the address", got)
	}
	if got := ClientChecks(l, "::ffff:192.0.2.7"); len(got) != 1 || got[0].Key != "192.0.2.7" {
		t.Errorf("ipv4-mapped: got %+v, want the ipv4 check", got)
	}
	got := ClientChecks(l, "2001:db8:1:2::9")
	want := []Check{{Limit: l, Key: "2001:db8:1:2::/64"},
		{Limit: Limit{Name: "recovery_ip_net", Count: 30 * NetFactor, Period: time.Hour}, Key: "2001:db8:1::/48"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ipv6: got %+v, want %+v", got, want)
	}
	off := Limit{Name: "off"}
	for _, c := range ClientChecks(off, "2001:db8::1") {
		if c.Limit.Enabled() {
			t.Errorf("a disabled limit's tier is enabled: %+v", c)
		}
	}
}

// TestOneSlash64IsOneClient: rotating addresses inside a /64 uses one bucket; rotating /64s
// inside a /48 meets the /48 tier.
func TestOneSlash64IsOneClient(t *testing.T) {
	l := Limit{Name: "registration_ip", Count: 20, Period: time.Hour}
	states := map[string]time.Time{}
	take := func(ip string) bool {
		checks := ClientChecks(l, ip)
		cur := make([]time.Time, len(checks))
		for i, c := range checks {
			cur[i] = states[c.Limit.Name+"|"+c.Key]
		}
		res, next := Apply(checks, cur, now0)
		for i, c := range checks {
			if res.Allowed {
				states[c.Limit.Name+"|"+c.Key] = next[i]
			}
		}
		return res.Allowed
	}
	allowed := 0
	for i := range 60 {
		if take("2001:db8:0:1::" + string("0123456789abcdef"[i%16]) + ":" + strconv.Itoa(i)) {
			allowed++
		}
	}
	if allowed != l.Count {
		t.Errorf("60 addresses of one /64: %d allowed, want %d", allowed, l.Count)
	}
	allowed = 0
	for i := range 200 {
		if take("2001:db8:0:" + strconv.Itoa(100+i) + "::1") {
			allowed++
		}
	}
	if want := l.Count*NetFactor - l.Count; allowed != want {
		t.Errorf("200 /64s of one /48 after the first: %d allowed, want %d", allowed, want)
	}
}
