package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The server's own counters, read from its metrics listener (--metrics) before and after the
// run: garbage collections, and the statements and transactions it sent to its database.
var counterNames = map[string]string{
	"go_gc_duration_seconds_count": "gc",
	"kilt_db_statements_total":     "statements",
	"kilt_db_transactions_total":   "transactions",
	// SQLite only: the seconds the server held its one write lock.
	"kilt_db_write_lock_seconds_total": "write_lock",
}

// serverCounters are those counters at one moment.
type serverCounters map[string]float64

// readCounters fetches the metrics at url (a loopback address, checked by the caller).
func readCounters(ctx context.Context, client *http.Client, url string) (serverCounters, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	return parseCounters(bufio.NewScanner(resp.Body))
}

// parseCounters reads the counters of counterNames from Prometheus's text format.
func parseCounters(sc *bufio.Scanner) (serverCounters, error) {
	c := serverCounters{}
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if key, known := counterNames[name]; ok && known {
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: %s %q", name, val)
			}
			c[key] = v
		}
	}
	return c, sc.Err()
}

// PerSuccess is what the server spent per 2xx answer of the run.
type PerSuccess struct {
	UserMS       float64  `json:"user_ms"`
	SystemMS     float64  `json:"system_ms"`
	MinorFaults  float64  `json:"minor_faults"`
	GCCycles     *float64 `json:"gc_cycles,omitempty"`
	Statements   *float64 `json:"db_statements,omitempty"`
	Transactions *float64 `json:"db_transactions,omitempty"`
	// WriteLockMS is the time the server held SQLite's one write lock: one second over it
	// is the rate at which the writer alone would be busy all the time.
	WriteLockMS *float64 `json:"db_write_lock_ms,omitempty"`
}

// setPerSuccess divides the server's usage and counters by the run's successes.
func (r *Result) setPerSuccess(u usage, before, after serverCounters, successes int64) {
	if successes == 0 {
		return
	}
	n := float64(successes)
	p := &PerSuccess{UserMS: ms(u.CPU.User) / n, SystemMS: ms(u.CPU.System) / n, MinorFaults: float64(u.CPU.MinorFaults) / n}
	per := func(key string) *float64 {
		a, okA := after[key]
		b, okB := before[key]
		if !okA || !okB {
			return nil
		}
		v := (a - b) / n
		return &v
	}
	p.GCCycles, p.Statements, p.Transactions = per("gc"), per("statements"), per("transactions")
	if v := per("write_lock"); v != nil {
		*v *= 1000
		p.WriteLockMS = v
	}
	r.PerSuccess = p
}
