package main

import (
	"bufio"
	"net/url"
	"strings"
	"testing"
)

func TestParseCounters(t *testing.T) {
	text := "# HELP go_gc_duration_seconds x\ngo_gc_duration_seconds{quantile=\"0\"} 1e-05\n" +
		"go_gc_duration_seconds_count 42\nkilt_db_statements_total 1.5e+06\nkilt_db_transactions_total 7\nother_total 9\n"
	c, err := parseCounters(bufio.NewScanner(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	if c["gc"] != 42 || c["statements"] != 1.5e6 || c["transactions"] != 7 || len(c) != 3 {
		t.Errorf("counters %v", c)
	}
	if _, err := parseCounters(bufio.NewScanner(strings.NewReader("kilt_db_statements_total many\n"))); err == nil {
		t.Error("a count that is not a number was taken")
	}
}

// TestMessageKey: a message is known by its link token, quoted-printable or not, so that the
// same link sent twice (under a new Message-ID) counts once as distinct.
func TestMessageKey(t *testing.T) {
	a := messageKey([]byte("Message-ID: <1@x>\r\n\r\nhttps://kilt.test/reset?token=3DAbCdEfGhIjKlMnOpQr=\r\nStUv\r\n"))
	b := messageKey([]byte("Message-ID: <2@x>\r\n\r\nhttps://kilt.test/reset?token=AbCdEfGhIjKlMnOpQrStUv\r\n"))
	c := messageKey([]byte("Message-ID: <3@x>\r\n\r\nhttps://kilt.test/reset?token=ZZCdEfGhIjKlMnOpQrStUv\r\n"))
	if a != b || a == c {
		t.Errorf("keys %q %q %q: want the first two equal and the third apart", a, b, c)
	}
	if messageKey([]byte("no link here")) == messageKey([]byte("no link there")) {
		t.Error("two messages without links have one key")
	}
}

// TestTargetsInTurn: with several --url targets, requests go to each in turn.
func TestTargetsInTurn(t *testing.T) {
	targets, err := parseTargets("http://127.0.0.1:1001, http://127.0.0.1:1002")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseTargets("http://127.0.0.1:1,http://example.com"); err == nil {
		t.Error("a target off this machine was taken")
	}
	e := &Env{Target: targets[0]}
	e.setTargets(targets)
	seen := map[string]int{}
	for range 4 {
		u, _ := url.Parse(e.nextTarget("http://127.0.0.1:1001/api/v1/recovery/email"))
		seen[u.Host]++
		if u.Path != "/api/v1/recovery/email" {
			t.Errorf("path %q", u.Path)
		}
	}
	if seen["127.0.0.1:1001"] != 2 || seen["127.0.0.1:1002"] != 2 {
		t.Errorf("targets used %v, want each twice", seen)
	}
	if got := e.nextTarget("http://127.0.0.1:5555/floor"); got != "http://127.0.0.1:5555/floor" {
		t.Errorf("another server's URL rewritten: %q", got)
	}
}
