package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// Result is everything a run measured, as printed and as written by --json.
type Result struct {
	Scenario    string `json:"scenario"`
	URL         string `json:"url"`
	Concurrency int    `json:"concurrency"`
	Accounts    int    `json:"accounts"`
	Stopped     string `json:"stopped"`

	Requests   int64         `json:"requests"`
	Duration   time.Duration `json:"-"`
	DurationS  float64       `json:"duration_s"`
	Throughput float64       `json:"throughput_per_s"`
	// SuccessRate is the 2xx answers per second: operations that did their work.
	SuccessRate float64 `json:"success_per_s"`

	Latency   Latency   `json:"-"`
	Latencies latencyMS `json:"latency_ms"`

	// Statuses counts answers by HTTP status; Errors counts operations that got no answer.
	Statuses map[string]int64 `json:"statuses"`
	Errors   map[string]int64 `json:"transport_errors"`

	Server *ProcessUsage `json:"server,omitempty"`
	// Client is this tool's own CPU use during the run: on one machine it competes with
	// the server for the same cores.
	Client ProcessUsage `json:"client"`

	Argon2 *Argon2Result `json:"argon2,omitempty"`
}

type latencyMS struct {
	Mean, P50, P95, P99, Max float64
}

func (l latencyMS) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]float64{"mean": l.Mean, "p50": l.P50, "p95": l.P95, "p99": l.P99, "max": l.Max})
}

// ProcessUsage is what a process used during the run.
type ProcessUsage struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_s"`
	// CPUCores is CPU seconds per second of the run: 2.0 is two cores kept busy.
	CPUCores float64 `json:"cpu_cores"`
	// PeakRSSMiB is the largest resident set size sampled every 50 ms during the run;
	// LifetimeHWMMiB is the kernel's VmHWM, the peak over the process's whole life.
	PeakRSSMiB     float64 `json:"peak_rss_mib,omitempty"`
	LifetimeHWMMiB float64 `json:"lifetime_hwm_mib,omitempty"`
	RSSSamples     int     `json:"rss_samples,omitempty"`
}

// Argon2Result is the raw Argon2id rate and the run's rate against it.
type Argon2Result struct {
	Params     string  `json:"params"`
	Goroutines int     `json:"goroutines"`
	Hashes     int64   `json:"hashes"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"hashes_per_s"`
	// RatioPercent is the run's 2xx answers per second as a percentage of PerSecond.
	RatioPercent float64 `json:"success_to_raw_percent"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// newResult builds the result of a run from its tally.
func newResult(sc Scenario, env *Env, t *tally) *Result {
	r := &Result{
		Scenario: sc.Name(), URL: env.Target.String(), Concurrency: env.Clients, Accounts: env.Accounts,
		Stopped: t.Stopped, Requests: t.Requests(), Duration: t.Wall, DurationS: t.Wall.Seconds(),
		Latency:  summarise(t.Durations),
		Statuses: map[string]int64{}, Errors: map[string]int64{},
	}
	var ok int64
	for code, n := range t.Statuses {
		r.Statuses[strconv.Itoa(code)] = n
		if code >= 200 && code < 300 {
			ok += n
		}
	}
	for class, n := range t.Errors {
		r.Errors[class] = n
	}
	if s := t.Wall.Seconds(); s > 0 {
		r.Throughput = float64(r.Requests) / s
		r.SuccessRate = float64(ok) / s
	}
	l := r.Latency
	r.Latencies = latencyMS{Mean: ms(l.Mean), P50: ms(l.P50), P95: ms(l.P95), P99: ms(l.P99), Max: ms(l.Max)}
	return r
}

// processUsage turns a watch's measurement into the report's form.
func processUsage(pid int, u usage) *ProcessUsage {
	p := &ProcessUsage{PID: pid, CPUSeconds: u.CPU.Seconds(), PeakRSSMiB: mib(u.MaxRSS),
		LifetimeHWMMiB: mib(u.HWM), RSSSamples: u.RSSSamples}
	if u.Wall > 0 {
		p.CPUCores = u.CPU.Seconds() / u.Wall.Seconds()
	}
	return p
}

// setArgon2 adds the raw Argon2id rate and the run's success rate as a share of it.
func (r *Result) setArgon2(raw rawRate) {
	a := &Argon2Result{Params: raw.Params.String(), Goroutines: raw.Workers, Hashes: raw.Hashes,
		Seconds: raw.Wall.Seconds(), PerSecond: raw.PerSecond()}
	if a.PerSecond > 0 {
		a.RatioPercent = 100 * r.SuccessRate / a.PerSecond
	}
	r.Argon2 = a
}

// printTable writes the result for a person.
func (r *Result) printTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	fmt.Fprintf(tw, "kilt-load %s → %s: %d clients, %d accounts; stopped: %s\n",
		r.Scenario, r.URL, r.Concurrency, r.Accounts, r.Stopped)
	row("requests", "%d", r.Requests)
	row("duration", "%.3f s", r.DurationS)
	row("throughput", "%.1f req/s", r.Throughput)
	row("successes (2xx)", "%.1f /s", r.SuccessRate)
	row("latency mean", "%.1f ms", r.Latencies.Mean)
	row("latency p50", "%.1f ms", r.Latencies.P50)
	row("latency p95", "%.1f ms", r.Latencies.P95)
	row("latency p99", "%.1f ms", r.Latencies.P99)
	row("latency max", "%.1f ms", r.Latencies.Max)
	codes := make([]string, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		row("status "+c, "%d", r.Statuses[c])
	}
	classes := make([]string, 0, len(r.Errors))
	for c := range r.Errors {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	for _, c := range classes {
		row("transport error", "%d  %s", r.Errors[c], c)
	}
	if len(classes) == 0 {
		row("transport errors", "0")
	}
	if s := r.Server; s != nil {
		row("server CPU", "%.2f s  (%.2f cores), pid %d", s.CPUSeconds, s.CPUCores, s.PID)
		row("server peak RSS", "%.1f MiB  (max of %d samples, every 50 ms, during the run)", s.PeakRSSMiB, s.RSSSamples)
		row("server VmHWM", "%.1f MiB  (peak over the process's whole life)", s.LifetimeHWMMiB)
	}
	row("client CPU", "%.2f s  (%.2f cores; this tool, on the same machine)", r.Client.CPUSeconds, r.Client.CPUCores)
	if a := r.Argon2; a != nil {
		row("argon2id raw", "%.1f hashes/s  (%s, %d goroutines, %d hashes in %.2f s)",
			a.PerSecond, a.Params, a.Goroutines, a.Hashes, a.Seconds)
		row(r.Scenario+" / raw", "%.1f %%  (2xx answers per second ÷ raw hashes per second)", a.RatioPercent)
	}
	return tw.Flush()
}

// writeJSON writes the result as one indented JSON document.
func (r *Result) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
