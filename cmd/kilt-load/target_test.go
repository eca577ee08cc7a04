package main

import (
	"errors"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"IPv4 loopback", "http://127.0.0.1:8080", true},
		{"elsewhere in 127/8", "http://127.1.2.3:8080/", true},
		{"IPv6 loopback", "http://[::1]:8080", true},
		{"localhost", "http://localhost:8080", true},
		{"localhost in capitals with a dot", "https://LOCALHOST.:8443", true},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:8080", true},
		{"private 10/8", "http://10.0.0.1:8080", false},
		{"private 192.168/16", "http://192.168.1.1", false},
		{"a public name", "http://example.com", false},
		{"a name under localhost", "http://evil.localhost:8080", false},
		{"a name that starts like localhost", "http://localhost.example.com", false},
		{"unspecified address", "http://0.0.0.0:8080", false},
		{"IPv6 unspecified", "http://[::]:8080", false},
		{"link-local", "http://169.254.1.1", false},
		{"IPv6 with a zone", "http://[::1%25lo]:8080", false},
		{"not http", "ftp://127.0.0.1", false},
		{"no scheme", "127.0.0.1:8080", false},
		{"user in URL", "http://u:p@127.0.0.1:8080", false},
		{"a decimal IP is a name, refused", "http://2130706433", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTarget(tt.url)
			if got := err == nil; got != tt.ok {
				t.Errorf("parseTarget(%q) error = %v, want accepted %v", tt.url, err, tt.ok)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		address string
		ok      bool
	}{
		{"127.0.0.1:8080", true},
		{"[::1]:8080", true},
		{"10.0.0.1:8080", false},
		{"93.184.216.34:80", false},
		{"[2001:db8::1]:443", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := loopbackOnly("tcp", tt.address, nil)
			if got := err == nil; got != tt.ok {
				t.Errorf("loopbackOnly(%q) = %v, want allowed %v", tt.address, err, tt.ok)
			}
			if err != nil && !errors.Is(err, errNotLoopback) {
				t.Errorf("loopbackOnly(%q) = %v, want errNotLoopback", tt.address, err)
			}
		})
	}
}
