package desk

import "testing"

// TestClientKeys: an IPv6 client is keyed by its /64 (every address of it shares a key) and
// its /48; an IPv4 client by its address.
func TestClientKeys(t *testing.T) {
	s := &Service{ipKey: []byte("k")}
	a, b := s.clientKeys("2001:db8:1:2::1"), s.clientKeys("2001:db8:1:2:ffff::9")
	if len(a) != 2 || a[0] != b[0] || a[1] != b[1] || a[1].factor <= 1 {
		t.Errorf("two addresses of one /64: %v and %v", a, b)
	}
	c := s.clientKeys("2001:db8:1:3::1")
	if c[0] == a[0] || c[1] != a[1] {
		t.Errorf("another /64 of the same /48: %v vs %v", c, a)
	}
	if v4 := s.clientKeys("10.0.0.1"); len(v4) != 1 || v4[0] == s.clientKeys("10.0.0.2")[0] {
		t.Errorf("IPv4: %v", v4)
	}
}
