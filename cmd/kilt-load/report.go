package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is everything a run measured, as printed and as written by --json.
type Result struct {
	Scenario    string `json:"scenario"`
	URL         string `json:"url"`
	Concurrency int    `json:"concurrency"`
	Accounts    int    `json:"accounts"`
	// ForwardedFor is the number of client addresses the requests came from in turn
	// (--forwarded-for); 0: all from the tool's own address.
	ForwardedFor int    `json:"forwarded_for,omitempty"`
	Stopped      string `json:"stopped"`

	// Unit names the operations in the plural: "requests", "recoveries", "messages".
	Unit       string        `json:"unit"`
	Requests   int64         `json:"requests"`
	Duration   time.Duration `json:"-"`
	DurationS  float64       `json:"duration_s"`
	Throughput float64       `json:"throughput_per_s"`
	// SuccessRate is the operations per second that did their work (2xx answers).
	SuccessRate float64 `json:"success_per_s"`

	Latency   Latency   `json:"-"`
	Latencies latencyMS `json:"latency_ms"`

	// Statuses counts answers by HTTP status; Errors counts operations that got no answer.
	Statuses map[string]int64 `json:"statuses"`
	Errors   map[string]int64 `json:"transport_errors"`

	// Classes are the latencies of each class of operation (known and unknown identifiers);
	// Steps those of each step of operations made of several.
	Classes []ClassResult `json:"classes,omitempty"`
	Steps   []StepResult  `json:"steps,omitempty"`
	// Notes are the scenario's own figures.
	Notes []Note `json:"notes,omitempty"`
	// Sinks is what the tool's SMTP server and SMS webhook received during the run.
	Sinks *SinkUsage `json:"sinks,omitempty"`

	Server *ProcessUsage `json:"server,omitempty"`
	// Client is this tool's own CPU use during the run: on one machine it competes with
	// the server for the same cores.
	Client ProcessUsage `json:"client"`
	// Machine is where all the machine's cores went during the run (/proc/stat).
	Machine *MachineUsage `json:"machine,omitempty"`

	Argon2 *Argon2Result `json:"argon2,omitempty"`
	// RS256 is the raw RS256 signing rate and the run's against it (--rs256).
	RS256 *RS256Result `json:"rs256,omitempty"`
	// Floor is the bare server's rate on the same database (--floor).
	Floor *FloorResult `json:"floor,omitempty"`
	// PerSuccess is the server's CPU, page faults and (with --metrics) collections and
	// database statements per 2xx answer.
	PerSuccess *PerSuccess `json:"per_success,omitempty"`
	// Delivered checks the messages the run should have sent against what the sinks got
	// (--drain).
	Delivered *DeliveryCheck `json:"delivered,omitempty"`
	// Soak is the database and the server's memory before and after the run (--soak).
	Soak *SoakResult `json:"soak,omitempty"`
}

// DeliveryCheck is the messages a run should have caused against those received: fewer
// received is a loss, more received than distinct a message sent twice.
type DeliveryCheck struct {
	Expected int64   `json:"expected"`
	Received int64   `json:"received"`
	Distinct int64   `json:"distinct"`
	WaitedS  float64 `json:"waited_s"`
}

// SoakResult is the database's size and rows and the server's RSS at the start of the run and
// after it (once --settle has passed, for the retention job to run).
type SoakResult struct {
	SettleS float64      `json:"settle_s"`
	Start   SoakSnapshot `json:"start"`
	End     SoakSnapshot `json:"end"`
}

// SoakSnapshot is one reading.
type SoakSnapshot struct {
	DatabaseMiB float64          `json:"database_mib"`
	RSSMiB      float64          `json:"server_rss_mib"`
	Rows        map[string]int64 `json:"rows"`
}

// ClassResult is one class of operation.
type ClassResult struct {
	Name      string           `json:"name"`
	Requests  int64            `json:"requests"`
	Statuses  map[string]int64 `json:"statuses"`
	Errors    int64            `json:"transport_errors"`
	Latencies latencyMS        `json:"latency_ms"`
}

// StepResult is one step of operations made of several.
type StepResult struct {
	Name      string    `json:"name"`
	Count     int64     `json:"count"`
	Latencies latencyMS `json:"latency_ms"`
}

// A Note is one figure of a scenario's own, as the report shows it.
type Note struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SinkUsage counts what the sinks received during the run (nil fields: not running).
type SinkUsage struct {
	Mail *SinkCount `json:"smtp,omitempty"`
	SMS  *SinkCount `json:"sms,omitempty"`
}

// SinkCount is one sink's count.
type SinkCount struct {
	Addr     string `json:"addr"`
	Messages int64  `json:"messages"`
	// Connections is the SMTP connections opened (a sender that reuses them opens few).
	Connections int64 `json:"connections,omitempty"`
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
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
	// UserSeconds and SystemSeconds split CPUSeconds; MinorFaults are the page faults.
	UserSeconds    float64 `json:"user_s"`
	SystemSeconds  float64 `json:"system_s"`
	MinorFaults    uint64  `json:"minor_faults"`
	LifetimeHWMMiB float64 `json:"lifetime_hwm_mib,omitempty"`
	RSSSamples     int     `json:"rss_samples,omitempty"`
}

// Argon2Result is the raw Argon2id rate and the run's rate against it. The raw rate is
// measured just before the run and again just after it; PerSecond is over both windows
// together, so a machine whose speed drifts during the run (other work, frequency) is
// compared with what it could do around that run rather than at one moment.
type Argon2Result struct {
	Params     string `json:"params"`
	Goroutines int    `json:"goroutines"`
	// Cores is where the goroutines ran: the server's cores, as taskset names them, or "any".
	Cores     string  `json:"cores"`
	Hashes    int64   `json:"hashes"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"hashes_per_s"`
	// BeforePerSecond and AfterPerSecond are the two windows' rates.
	BeforePerSecond float64 `json:"before_hashes_per_s"`
	AfterPerSecond  float64 `json:"after_hashes_per_s"`
	// RatioPercent is the run's 2xx answers per second as a percentage of PerSecond.
	RatioPercent float64 `json:"success_to_raw_percent"`
	// The bare loop (this process during both windows) per hash.
	BareUserMS      float64 `json:"bare_user_ms_per_hash"`
	BareSystemMS    float64 `json:"bare_system_ms_per_hash"`
	BareMinorFaults float64 `json:"bare_minor_faults_per_hash"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// newResult builds the result of a run from its tally.
func newResult(sc Scenario, env *Env, t *tally) *Result {
	r := &Result{
		Scenario: sc.Name(), URL: env.Target.String(), Concurrency: env.Clients, Accounts: env.Accounts, ForwardedFor: env.ForwardedFor,
		Stopped: t.Stopped, Unit: unitOf(sc), Requests: t.Requests(), Duration: t.Wall, DurationS: t.Wall.Seconds(),
		Latency:  summarise(t.Durations),
		Statuses: statusNames(t.Statuses), Errors: map[string]int64{},
	}
	for class, n := range t.Errors {
		r.Errors[class] = n
	}
	if s := t.Wall.Seconds(); s > 0 {
		r.Throughput = float64(r.Requests) / s
		r.SuccessRate = float64(t.Successes) / s
	}
	r.Latencies = inMS(r.Latency)
	names := make([]string, 0, len(t.Classes))
	for name := range t.Classes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := t.Classes[name]
		r.Classes = append(r.Classes, ClassResult{Name: name, Requests: int64(len(c.Durations)),
			Statuses: statusNames(c.Statuses), Errors: c.Errors, Latencies: inMS(summarise(c.Durations))})
	}
	for _, name := range t.StepOrder {
		ds := t.Steps[name]
		r.Steps = append(r.Steps, StepResult{Name: name, Count: int64(len(ds)), Latencies: inMS(summarise(ds))})
	}
	if n, ok := sc.(noter); ok {
		r.Notes = n.Notes()
	}
	return r
}

func inMS(l Latency) latencyMS {
	return latencyMS{Mean: ms(l.Mean), P50: ms(l.P50), P95: ms(l.P95), P99: ms(l.P99), Max: ms(l.Max)}
}

func statusNames(m map[int]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for code, n := range m {
		out[strconv.Itoa(code)] = n
	}
	return out
}

// processUsage turns a watch's measurement into the report's form.
func processUsage(pid int, u usage) *ProcessUsage {
	p := &ProcessUsage{PID: pid, CPUSeconds: u.CPU.Total().Seconds(), PeakRSSMiB: mib(u.MaxRSS),
		LifetimeHWMMiB: mib(u.HWM), RSSSamples: u.RSSSamples,
		UserSeconds: u.CPU.User.Seconds(), SystemSeconds: u.CPU.System.Seconds(), MinorFaults: u.CPU.MinorFaults}
	if u.Wall > 0 {
		p.CPUCores = p.CPUSeconds / u.Wall.Seconds()
	}
	return p
}

// setArgon2 adds the raw Argon2id rate and the run's success rate as a share of it.
func (r *Result) setArgon2(before, after rawRate) {
	both := rawRate{Hashes: before.Hashes + after.Hashes, Wall: before.Wall + after.Wall}
	a := &Argon2Result{Params: before.Params.String(), Goroutines: before.Workers, Cores: before.Cores, Hashes: both.Hashes,
		Seconds: both.Wall.Seconds(), PerSecond: both.PerSecond(),
		BeforePerSecond: before.PerSecond(), AfterPerSecond: after.PerSecond()}
	if a.PerSecond > 0 {
		a.RatioPercent = 100 * r.SuccessRate / a.PerSecond
	}
	if n := float64(both.Hashes); n > 0 {
		cpu := before.CPU
		cpu.User, cpu.System, cpu.MinorFaults = cpu.User+after.CPU.User, cpu.System+after.CPU.System, cpu.MinorFaults+after.CPU.MinorFaults
		a.BareUserMS, a.BareSystemMS, a.BareMinorFaults = ms(cpu.User)/n, ms(cpu.System)/n, float64(cpu.MinorFaults)/n
	}
	r.Argon2 = a
}

// printTable writes the result for a person.
func (r *Result) printTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	fmt.Fprintf(tw, "kilt-load %s → %s: %d clients, %d accounts; stopped: %s\n",
		r.Scenario, r.URL, r.Concurrency, r.Accounts, r.Stopped)
	row(r.Unit, "%d", r.Requests)
	if r.ForwardedFor > 0 {
		row("client addresses", "%d in turn (X-Forwarded-For, from %s)", r.ForwardedFor, forwardedBlock)
	}
	row("duration", "%.3f s", r.DurationS)
	row("throughput", "%.1f %s/s", r.Throughput, r.Unit)
	row("successes", "%.1f /s", r.SuccessRate)
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
	for _, c := range r.Classes {
		row(c.Name, "%d  %s; p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (mean %.1f)",
			c.Requests, c.statusText(), c.Latencies.P50, c.Latencies.P95, c.Latencies.P99, c.Latencies.Max, c.Latencies.Mean)
	}
	for _, s := range r.Steps {
		row("step "+s.Name, "p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (mean %.1f; %d)",
			s.Latencies.P50, s.Latencies.P95, s.Latencies.P99, s.Latencies.Max, s.Latencies.Mean, s.Count)
	}
	for _, n := range r.Notes {
		row(n.Name, "%s", n.Value)
	}
	if k := r.Sinks; k != nil {
		if m := k.Mail; m != nil {
			row("SMTP sink", "%d e-mails on %d connections, at %s", m.Messages, m.Connections, m.Addr)
		}
		if m := k.SMS; m != nil {
			row("SMS sink", "%d SMS, at %s", m.Messages, m.Addr)
		}
	}
	if s := r.Server; s != nil {
		row("server CPU", "%.2f s  (%.2f cores), pid %d", s.CPUSeconds, s.CPUCores, s.PID)
		row("server peak RSS", "%.1f MiB  (max of %d samples, every 50 ms, during the run)", s.PeakRSSMiB, s.RSSSamples)
		row("server VmHWM", "%.1f MiB  (peak over the process's whole life)", s.LifetimeHWMMiB)
	}
	row("client CPU", "%.2f s  (%.2f cores; this tool, on the same machine)", r.Client.CPUSeconds, r.Client.CPUCores)
	if m := r.Machine; m != nil {
		row("machine CPU", "%.2f of %d cores busy (user %.2f, kernel %.2f), idle %.2f, iowait %.2f",
			m.Busy, m.Cores, m.User, m.Kernel, m.Idle, m.IOWait)
		if m.ClientMS > 0 {
			row("per 2xx elsewhere", "this tool %.2f ms CPU%s", m.ClientMS, m.otherText())
		}
	}
	if a := r.Argon2; a != nil {
		row("argon2id raw", "%.1f hashes/s  (%s, %d goroutines on cores %s, %d hashes in %.2f s; %.1f/s before the run, %.1f/s after)",
			a.PerSecond, a.Params, a.Goroutines, a.Cores, a.Hashes, a.Seconds, a.BeforePerSecond, a.AfterPerSecond)
		row(r.Scenario+" / raw", "%.1f %%  (2xx answers per second ÷ raw hashes per second)", a.RatioPercent)
		row("bare loop per hash", "user %.2f ms, system %.2f ms, %.1f minor faults", a.BareUserMS, a.BareSystemMS, a.BareMinorFaults)
	}
	r.printRS256(row)
	r.printExtras(row)
	return tw.Flush()
}

// statusText lists the class's answers by status, then its transport errors.
func (c ClassResult) statusText() string {
	codes := make([]string, 0, len(c.Statuses))
	for code := range c.Statuses {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	var b strings.Builder
	b.WriteByte('(')
	for i, code := range codes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", code, c.Statuses[code])
	}
	if c.Errors > 0 {
		if len(codes) > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "no answer: %d", c.Errors)
	}
	b.WriteByte(')')
	return b.String()
}

// writeJSON writes the result as one indented JSON document.
func (r *Result) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// printExtras writes the floor, the figures per success, the delivery check and the soak.
func (r *Result) printExtras(row func(k, format string, args ...any)) {
	if f := r.Floor; f != nil {
		what := "statements a request in one transaction"
		if f.Read {
			what = "rows read by primary key a request, no transaction"
		}
		row("floor", "%.1f requests/s  (%d %s; %.1f/s before the run, %.1f/s after)",
			f.PerSecond, f.Statements, what, f.BeforePerSecond, f.AfterPerSecond)
		if f.Calibrated != nil {
			row("floor", "calibrated: the server sent %.2f statements to its database per 2xx answer", *f.Calibrated)
		}
		if f.ServerMS != nil {
			row("floor", "CPU per request: its server %.3f ms, the tool %.3f ms", *f.ServerMS, deref(f.ToolMS))
		}
		row(r.Scenario+" / floor", "%.2f  (2xx answers per second ÷ the floor's)", f.Ratio)
	}
	if p := r.PerSuccess; p != nil {
		row("server per 2xx", "user %.2f ms, system %.2f ms, %.1f minor faults", p.UserMS, p.SystemMS, p.MinorFaults)
		if p.GCCycles != nil {
			row("server per 2xx", "%.3f GC cycles, %.2f database statements in %.2f transactions",
				*p.GCCycles, deref(p.Statements), deref(p.Transactions))
		}
		if p.WriteLockMS != nil && *p.WriteLockMS > 0 {
			row("server per 2xx", "SQLite's write lock held %.3f ms (its one writer alone would be busy all the time at %.0f/s)",
				*p.WriteLockMS, 1000 / *p.WriteLockMS)
		}
	}
	if d := r.Delivered; d != nil {
		row("delivered", "%d expected, %d received (%d distinct) after waiting %.1f s: %d lost, %d sent twice",
			d.Expected, d.Received, d.Distinct, d.WaitedS, max(d.Expected-d.Distinct, 0), d.Received-d.Distinct)
	}
	if s := r.Soak; s != nil {
		row("soak database", "%.2f MiB at the start, %.2f MiB at the end (%.0f s after the run)", s.Start.DatabaseMiB, s.End.DatabaseMiB, s.SettleS)
		row("soak server RSS", "%.1f MiB at the start, %.1f MiB at the end", s.Start.RSSMiB, s.End.RSSMiB)
		names := make([]string, 0, len(s.End.Rows))
		for name := range s.End.Rows {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if a, b := s.Start.Rows[name], s.End.Rows[name]; a != 0 || b != 0 {
				row("soak rows "+name, "%d → %d", a, b)
			}
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
