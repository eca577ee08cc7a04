package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// parseTarget parses the --url value and refuses every target that is not this machine.
// Load may only go to a loopback address: 127.0.0.0/8, ::1, or the name localhost. No other
// name is resolved to find out — a name that resolves to loopback today may not tomorrow —
// and the HTTP client checks every address it dials again (see loopbackOnly), so neither
// /etc/hosts nor a redirect can send the load elsewhere.
func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--url %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--url %q: want an http:// or https:// URL", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--url %q: must not carry a user", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("--url %q: refused: load may only go to this machine (127.0.0.0/8, ::1 or localhost)", raw)
	}
	return u, nil
}

// isLoopbackHost reports whether host (without port or brackets) names this machine: the
// name localhost or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && a.Unmap().IsLoopback()
}

// errNotLoopback is returned by the dialer for any address outside loopback.
var errNotLoopback = errors.New("refusing to connect to an address that is not loopback")

// loopbackOnly is a net.Dialer Control function: it runs before each connect and refuses
// any address that is not loopback, whatever name it was resolved from.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("%w: %s", errNotLoopback, address)
	}
	return nil
}

// newHTTPClient returns the one client of a run: one transport whose idle pool holds a
// connection per client, so after the first request of each client every request reuses a
// kept-alive connection; no proxy (HTTP_PROXY from the environment would send the load
// elsewhere, and measure the proxy); no redirects followed; every request bounded by timeout.
func newHTTPClient(clients int, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          clients,
		MaxIdleConnsPerHost:   clients,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
