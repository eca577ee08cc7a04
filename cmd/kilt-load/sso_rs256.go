package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"sync/atomic"
	"time"
)

// rsaBits is the size of the provider's RS256 keys (internal/oidc).
const rsaBits = 2048

// rawSignRate is the machine's raw RS256 signing rate.
type rawSignRate struct {
	Workers    int
	Cores      string // where the workers ran: rawCores.each
	Signatures int64
	Wall       time.Duration
}

// PerSecond returns the signatures per second.
func (r rawSignRate) PerSecond() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Signatures) / r.Wall.Seconds()
}

// measureRS256 signs a JWT-sized digest with RS256 (RSASSA-PKCS1-v1_5, SHA-256, a 2048-bit
// key: what the provider signs ID and access tokens with) on one goroutine per core of cores, calling
// crypto/rsa directly (no HTTP, no database), for window; like measureArgon2, each goroutine
// finishes the signature it is on and the rate is over the time until the last finished.
func measureRS256(ctx context.Context, cores rawCores, window time.Duration) rawSignRate {
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return rawSignRate{}
	}
	key.Precompute()
	var sigs atomic.Int64
	payload := make([]byte, 600) // about an ID token's header and claims, base64url
	rand.Read(payload)
	start := time.Now()
	deadline := start.Add(window)
	where := cores.each(func() {
		for ctx.Err() == nil && time.Now().Before(deadline) {
			sum := sha256.Sum256(payload)
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:]); err != nil {
				return
			}
			sigs.Add(1)
		}
	})
	return rawSignRate{Workers: cores.workers(), Cores: where, Signatures: sigs.Load(), Wall: time.Since(start)}
}

// RS256Result is the raw RS256 signing rate, over a window before the run and one after it,
// and the run's rate against it (--rs256).
type RS256Result struct {
	Bits            int     `json:"bits"`
	Goroutines      int     `json:"goroutines"`
	Cores           string  `json:"cores"` // as Argon2Result's
	Signatures      int64   `json:"signatures"`
	Seconds         float64 `json:"seconds"`
	PerSecond       float64 `json:"signatures_per_s"`
	BeforePerSecond float64 `json:"before_signatures_per_s"`
	AfterPerSecond  float64 `json:"after_signatures_per_s"`
	// RatioPercent is the run's successes per second as a percentage of PerSecond.
	RatioPercent float64 `json:"success_to_raw_percent"`
}

// setRS256 adds the raw RS256 rate and the run's success rate as a share of it.
func (r *Result) setRS256(before, after rawSignRate) {
	both := rawSignRate{Signatures: before.Signatures + after.Signatures, Wall: before.Wall + after.Wall}
	a := &RS256Result{Bits: rsaBits, Goroutines: before.Workers, Cores: before.Cores, Signatures: both.Signatures, Seconds: both.Wall.Seconds(),
		PerSecond: both.PerSecond(), BeforePerSecond: before.PerSecond(), AfterPerSecond: after.PerSecond()}
	if a.PerSecond > 0 {
		a.RatioPercent = 100 * r.SuccessRate / a.PerSecond
	}
	r.RS256 = a
}

// printRS256 writes the raw RS256 rate and the ratio.
func (r *Result) printRS256(row func(k, format string, args ...any)) {
	a := r.RS256
	if a == nil {
		return
	}
	row("rs256 raw", "%.1f signatures/s  (RSA-%d, %d goroutines on cores %s, %d signatures in %.2f s; %.1f/s before the run, %.1f/s after)",
		a.PerSecond, a.Bits, a.Goroutines, a.Cores, a.Signatures, a.Seconds, a.BeforePerSecond, a.AfterPerSecond)
	row(r.Scenario+" / rs256", "%.1f %%  (2xx %s per second ÷ raw RS256 signatures per second)", a.RatioPercent, r.Unit)
}
