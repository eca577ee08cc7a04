// Command kilt-load is Kilt's load tool: it measures the service against its performance targets
// (docs/performance.md), as rates and ratios taken in one run on one machine.
//
//	kilt-load [flags] SCENARIO
//
// A scenario (one file each; see Scenario) prepares its data — accounts are created
// directly in the server's database, not through the API, so that only what is being
// measured is measured — then concurrent clients repeat its operation until the run's time
// or count is up. The scenarios:
//
//   - login: sign in again and again (target: ≥ 90 % of the raw Argon2id rate).
//   - recovery-email, recovery-phone: ask for recovery, half for identifiers that have an
//     account and half for ones that have none, timed apart (≥ 5,000 requests/s, p99 ≤ 25 ms,
//     and the two alike).
//   - full-recovery: one whole recovery by SMS code per operation — request, the code read
//     at the tool's SMS sink, verify, a new password — timed whole and by step (median
//     ≤ 250 ms at the default hashing cost).
//   - delivery: e-mails written straight into the outbox, timed arriving at the tool's
//     SMTP sink (≥ 500 a second).
//   - sso-code, sso-refresh, sso-userinfo, sso-introspect: the single sign-on's code flow
//     with its exchange, refresh, userinfo and introspection (sso.go); with --rs256 the rate
//     is also given as a share of the raw RS256 signing rate (a refresh ≥ 50 % of it).
//
// The report gives throughput, exact latency percentiles (every duration is kept and
// sorted; nothing is bucketed), answers by HTTP status and transport errors, the latencies
// of each class and step of operation, what the sinks received, and, with --pid, the
// server's CPU time and peak memory read from /proc. With --argon2 it also measures the raw
// Argon2id rate of the machine at the configured cost, just before the run and again just
// after it, and gives the run's rate of successes as a percentage of the two together. The
// raw loops (--argon2, --rs256) run one goroutine per core the server may run on (--pid: its
// affinity), the tool moved onto those cores for the windows: when the server is given cores
// of its own (taskset), the raw rate is those cores', not the tool's (cores_linux.go).
//
// Sinks: the tool runs the SMTP server (--smtp-listen) and SMS webhook (--sms-listen) the
// server under load must deliver to, so that a scenario can read a code or time a message
// the moment it arrives; the operator starts kilt pointing at them. Server settings: the
// recovery limits would answer a load test 429 within seconds, so the scenarios that meet
// them need kilt started with them off. The usage text (-h) gives, for each scenario, the
// environment to start kilt with; the tool reads the server's configuration from its own
// environment (give it the server's) and warns before the run about each setting that is
// not as the scenario needs.
//
// Safety: load only ever goes to this machine. A --url whose host is not 127.0.0.0/8, ::1
// or localhost is refused, the client checks every address it dials again, ignores
// HTTP_PROXY and follows no redirect; the sinks listen on loopback addresses only. Every
// run ends by itself: --duration is at most 10 minutes, --count runs under the same cap,
// and requests in flight when the time is up get their own timeout and a few seconds more.
// Ctrl-C stops the clients, drops the operations it cut short, and still prints what was
// measured; a second Ctrl-C kills.
//
// The tool runs on the machine it measures and takes CPU from the server; the report shows
// how much ("client CPU"), and where all the machine's cores went during the run, from
// /proc/stat ("machine CPU": busy, kernel, idle, iowait; per 2xx the tool's CPU and, with
// --pid, everything else's: the database, other programs).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"kilt/internal/config"
)

// Bounds of the flags.
const (
	maxConcurrency = 4096
	maxAccounts    = 1_000_000
	defaultTimeout = 30 * time.Second
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	if code, ok := floorChild(os.Getenv, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code) // this process is a floor's server (floor.go)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// From now on a second Ctrl-C kills the process the usual way.
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	scenario    Scenario
	url         string
	concurrency int
	duration    time.Duration
	durationSet bool
	count       int64
	timeout     time.Duration
	pid         int
	database    string
	accounts    int
	argon2      bool
	argon2Time  time.Duration
	// rs256: measure the raw RS256 signing rate (for --argon2-time) before and after.
	rs256 bool
	// forwardedFor is --forwarded-for: the client addresses requests are spread over.
	forwardedFor int
	json         bool
	sinks        sinkAddrs
	// mailSet and smsSet: the sink's flag was given, so the sink runs whatever the scenario.
	mailSet, smsSet bool
	// floor is how long the floor is measured before and again after the run (0: not).
	floor time.Duration
	// metrics is the server's metrics URL(s), read before and after the run.
	metrics string
	// drain is how long to wait after the run for the messages it caused (0: not).
	drain time.Duration
	// soak: read the database and the server's memory at the start and, settle after the
	// run, at the end.
	soak   bool
	settle time.Duration
}

func printUsage(w io.Writer, fs *flag.FlagSet, a sinkAddrs) {
	fmt.Fprint(w, "Usage: kilt-load [flags] SCENARIO\n\nScenarios:\n")
	for _, s := range scenarios() {
		fmt.Fprintf(w, "  %-15s %s\n", s.Name(), s.Summary())
		if reqs := requirementsOf(s, a); len(reqs) > 0 {
			fmt.Fprintf(w, "  %-15s start kilt with: %s\n", "", startWith(reqs))
		}
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.PrintDefaults()
	fmt.Fprint(w, "\nThe configuration (KILT_ARGON2_*, KILT_HASH_WORKERS, KILT_SECRET, the limits, …) is read from\n"+
		"the environment like the server reads it: give the tool the server's environment. The tool\n"+
		"warns when it does not have what the scenario needs (the limits above are per hour and per\n"+
		"day; 0 turns one off). The sinks are the tool's own SMTP server and SMS webhook, running while\n"+
		"it runs, on loopback addresses only; the scenarios that need them start them.\n")
}

// parseArgs reads the command line. Flags may come before and after the scenario.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kilt-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(stderr, fs, o.sinks) }
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the service under load; only loopback addresses are accepted. Several, separated by commas: instances of one service, sent the requests in turn")
	fs.DurationVar(&o.floor, "floor", 0, "also measure the floor — a bare server (a child process of this tool) doing the scenario's database statements and nothing else, on --database — for this long before and after the run, and compare (at most 1m); with --metrics its statements are calibrated first: the server's statements per 2xx over a window of the scenario")
	fs.StringVar(&o.metrics, "metrics", "", "the server's metrics URL(s) (KILT_METRICS_LISTEN, path /metrics; commas for several): GC cycles and database statements per 2xx answer")
	fs.DurationVar(&o.drain, "drain", 0, "after the run, wait up to this long for the messages it caused and count them at the sinks: lost and sent twice (at most 10m)")
	fs.BoolVar(&o.soak, "soak", false, "read the database's size and rows and the server's RSS (--pid) at the start and --settle after the run; needs --database")
	fs.DurationVar(&o.settle, "settle", 0, "with --soak: wait this long after the run before the last reading (at most 10m), for the retention job and the outbox")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "stop after this long (at most 10m)")
	fs.Int64Var(&o.count, "count", 0, "stop after this many operations (delivery: e-mails to write; at most 10,000,000; still within 10m)")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "longest one request, or one wait for an SMS code, may take")
	fs.IntVar(&o.pid, "pid", 0, "process ID of the server: report its CPU time and peak RSS during the run")
	fs.StringVar(&o.database, "database", "", "the server's KILT_DATABASE_URL, for scenarios that create data before the run")
	fs.IntVar(&o.accounts, "accounts", 0, "accounts to create and use (default: --concurrency; full-recovery: 64 per client)")
	fs.BoolVar(&o.argon2, "argon2", false, "also measure the raw Argon2id rate at the configured cost, before and after the run, and compare")
	fs.DurationVar(&o.argon2Time, "argon2-time", 3*time.Second, "how long --argon2 and --rs256 measure, before and again after the run (at most 1m)")
	fs.BoolVar(&o.rs256, "rs256", false, "also measure the raw RS256 signing rate (2048-bit keys, as the single sign-on signs), before and after the run, and compare")
	fs.IntVar(&o.forwardedFor, "forwarded-for", 0, fmt.Sprintf("send the requests as from this many client addresses in turn (X-Forwarded-For, from %s; at most %d), as behind a proxy: start kilt with KILT_TRUSTED_PROXIES=127.0.0.1", forwardedBlock, maxForwardedFor))
	fs.BoolVar(&o.json, "json", false, "write the result as JSON to stdout (the table then goes to stderr)")
	fs.StringVar(&o.sinks.Mail, "smtp-listen", "127.0.0.1:2525", "loopback address of the tool's SMTP sink (KILT_SMTP_URL=smtp://ADDR?starttls=false)")
	fs.StringVar(&o.sinks.SMS, "sms-listen", "127.0.0.1:2526", "loopback address of the tool's SMS webhook sink (KILT_SMS_WEBHOOK_URL=http://ADDR/sms)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return nil, errors.New("no scenario given")
	}
	name := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments after the scenario: %s", strings.Join(fs.Args(), " "))
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "duration":
			o.durationSet = true
		case "smtp-listen":
			o.mailSet = true
		case "sms-listen":
			o.smsSet = true
		}
	})
	if o.scenario = findScenario(name); o.scenario == nil {
		return nil, fmt.Errorf("unknown scenario %q (kilt-load -h lists them)", name)
	}
	switch {
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return nil, fmt.Errorf("--concurrency: want 1 to %d", maxConcurrency)
	case o.duration <= 0 || o.duration > maxDuration:
		return nil, fmt.Errorf("--duration: want more than 0 and at most %v", maxDuration)
	case o.count < 0 || o.count > maxCount:
		return nil, fmt.Errorf("--count: want 1 to %d", maxCount)
	case o.timeout < time.Second || o.timeout > 5*time.Minute:
		return nil, errors.New("--timeout: want 1s to 5m")
	case o.argon2Time <= 0 || o.argon2Time > time.Minute:
		return nil, errors.New("--argon2-time: want more than 0 and at most 1m")
	case o.pid < 0:
		return nil, errors.New("--pid: want a process ID")
	case o.accounts < 0 || o.accounts > maxAccounts:
		return nil, fmt.Errorf("--accounts: want 1 to %d", maxAccounts)
	case o.forwardedFor < 0 || o.forwardedFor > maxForwardedFor:
		return nil, fmt.Errorf("--forwarded-for: want 0 (off) to %d", maxForwardedFor)
	case o.floor < 0 || o.floor > time.Minute:
		return nil, errors.New("--floor: want 0 (off) to 1m")
	case o.drain < 0 || o.drain > maxDuration || o.settle < 0 || o.settle > maxDuration:
		return nil, fmt.Errorf("--drain, --settle: want 0 to %v", maxDuration)
	case (o.soak || o.floor > 0) && o.database == "":
		return nil, errors.New("--soak and --floor read the database: give --database")
	}
	if o.count > 0 && !o.durationSet {
		// A count alone still runs under the hard cap.
		o.duration = maxDuration
	}
	if o.accounts == 0 {
		o.accounts = o.concurrency
		if d, ok := o.scenario.(accountDefaulter); ok {
			o.accounts = min(d.DefaultAccounts(o.concurrency), maxAccounts)
		}
	}
	return o, nil
}

// run is the whole command; it returns the exit code. getenv is the environment the
// configuration is read from.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "kilt-load:", err)
		return exitUsage
	}
	code, err := measure(ctx, o, getenv, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "kilt-load:", err)
	}
	return code
}

// measure prepares the scenario, runs it and prints the result.
func measure(ctx context.Context, o *options, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	// The sinks' goroutines log to stderr too.
	stderr = &gatedWriter{w: stderr}
	targets, err := parseTargets(o.url)
	if err != nil {
		return exitUsage, err
	}
	metrics, err := parseTargets(o.metrics)
	if err != nil && o.metrics != "" {
		return exitUsage, fmt.Errorf("--metrics: %w", err)
	}
	if o.pid > 0 {
		if _, err := procCPU(o.pid); err != nil {
			return exitUsage, fmt.Errorf("--pid %d: %v", o.pid, err)
		}
	}
	cfg, err := loadConfig(getenv, o.database)
	if err != nil {
		return exitUsage, err
	}
	env := &Env{
		Target: targets[0], HTTP: newHTTPClient(o.concurrency*len(targets), o.timeout),
		Clients: o.concurrency, Accounts: o.accounts, Count: o.count, Timeout: o.timeout,
		Config: cfg, HasDatabase: o.database != "", Log: stderr, ForwardedFor: o.forwardedFor,
	}
	env.setTargets(targets)
	defer env.HTTP.CloseIdleConnections()
	closeSinks, err := startSinks(o, env)
	if err != nil {
		return exitUsage, err
	}
	defer closeSinks()
	reqs := requirementsOf(o.scenario, o.sinks)
	if o.forwardedFor > 0 {
		reqs = append(reqs, needTrustedLoopback)
	}
	warnUnmet(stderr, o.scenario.Name(), reqs, cfg)

	if err := o.scenario.Prepare(ctx, env); err != nil {
		if ctx.Err() != nil {
			return exitInterrupted, errors.New("interrupted while preparing")
		}
		return exitFailed, fmt.Errorf("preparing %s: %w", o.scenario.Name(), err)
	}
	w := &window{o: o, env: env, stderr: stderr}
	if err := w.before(ctx); err != nil {
		return w.code(ctx), err
	}
	defer w.close()
	// After the floor's calibration, whose messages are not the run's.
	var distinct *distinctSet
	if o.drain > 0 && env.Mail != nil {
		distinct = env.Mail.CountDistinct()
	}

	var server *watch
	if o.pid > 0 {
		if server, err = startWatch(o.pid); err != nil {
			return exitFailed, fmt.Errorf("--pid %d: %v", o.pid, err)
		}
	}
	idle(ctx, env.HTTP, metrics) // the per-2xx readings count the run's work alone
	countersBefore := readAllCounters(ctx, env.HTTP, metrics)
	selfCPU, err := procCPU(os.Getpid())
	if err != nil {
		return exitFailed, fmt.Errorf("reading this process's CPU time: %v", err)
	}
	selfStart := time.Now()
	machineBefore, machineErr := readMachineStat()
	announce(stderr, o, env)

	sinksBefore := sinkCounts(env)
	lim := limits{Duration: o.duration, Count: o.count, Timeout: o.timeout}
	var t *tally
	switch s := o.scenario.(type) {
	case measurer:
		t = s.Measure(ctx, lim)
	case looper:
		t = runLoad(ctx, s, o.concurrency, lim)
	default:
		return exitFailed, fmt.Errorf("scenario %s neither loops nor measures", s.Name())
	}

	machineAfter, err := readMachineStat()
	machineErr = errors.Join(machineErr, err)
	res := newResult(o.scenario, env, t)
	res.URL = o.url
	var clientCPU time.Duration
	if cpu, err := procCPU(os.Getpid()); err == nil {
		d := cpu.minus(selfCPU)
		clientCPU = d.Total()
		res.Client = ProcessUsage{PID: os.Getpid(), CPUSeconds: d.Total().Seconds(),
			CPUCores:    d.Total().Seconds() / time.Since(selfStart).Seconds(),
			UserSeconds: d.User.Seconds(), SystemSeconds: d.System.Seconds(), MinorFaults: d.MinorFaults}
	}
	idle(ctx, env.HTTP, metrics) // and all of it: the background work the run caused
	countersAfter := readAllCounters(ctx, env.HTTP, metrics)
	var serverErr error
	var serverCPU *time.Duration
	if server != nil {
		u, err := server.stop()
		if err != nil {
			serverErr = fmt.Errorf("the server's usage is missing: %v", err)
		} else {
			res.Server = processUsage(o.pid, u)
			res.setPerSuccess(u, countersBefore, countersAfter, t.Successes)
			cpu := u.CPU.Total()
			serverCPU = &cpu
		}
	}
	if machineErr == nil {
		res.Machine, machineErr = machineUsage(machineBefore, machineAfter, serverCPU, clientCPU, t.Successes)
	}
	if machineErr != nil {
		// Not a failure of the run: the machine's figures are context (a system without
		// /proc/stat still measures the server).
		fmt.Fprintf(stderr, "the machine's CPU is missing: %v\n", machineErr)
	}
	if o.drain > 0 {
		res.Delivered = drainMessages(ctx, o.scenario, env, t, sinksBefore, distinct, o.drain)
	}
	res.Sinks = sinkCounts(env).minus(sinksBefore)
	if err := w.after(ctx, res); err != nil {
		return w.code(ctx), err
	}

	table := stdout
	if o.json {
		table = stderr
	}
	if err := res.printTable(table); err != nil {
		return exitFailed, err
	}
	if o.json {
		if err := res.writeJSON(stdout); err != nil {
			return exitFailed, err
		}
	}
	if t.Stopped == stoppedByInterrupt {
		return exitInterrupted, nil
	}
	if serverErr != nil {
		return exitFailed, serverErr
	}
	return exitOK, nil
}

// announce says what is about to run.
func announce(stderr io.Writer, o *options, env *Env) {
	stopAt := o.duration.String()
	if o.count > 0 {
		stopAt = fmt.Sprintf("%d %s (at most %v)", o.count, unitOf(o.scenario), o.duration)
	}
	if _, ok := o.scenario.(measurer); ok {
		fmt.Fprintf(stderr, "running %s against %s until %s…\n", o.scenario.Name(), o.url, stopAt)
	} else {
		fmt.Fprintf(stderr, "running %s: %d clients against %s until %s…\n", o.scenario.Name(), o.concurrency, o.url, stopAt)
	}
}

// startSinks starts the sinks the scenario needs and those whose flags were given, puts
// them in env, and returns the function that stops them.
func startSinks(o *options, env *Env) (func(), error) {
	var mail, sms bool
	if u, ok := o.scenario.(sinkUser); ok {
		mail, sms = u.Sinks()
	}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	if mail || o.mailSet {
		s, err := startMailSink(o.sinks.Mail, env.Log)
		if err != nil {
			return nil, err
		}
		closers = append(closers, s.Close)
		env.Mail = s
		fmt.Fprintf(env.Log, "SMTP sink listening on %s (KILT_SMTP_URL=%s)\n", s.Addr(), shellQuote(smtpURL(s.Addr())))
	}
	if sms || o.smsSet {
		s, err := startSMSSink(o.sinks.SMS, env.Log)
		if err != nil {
			closeAll()
			return nil, err
		}
		closers = append(closers, s.Close)
		env.SMS = s
		fmt.Fprintf(env.Log, "SMS sink listening on %s (KILT_SMS_PROVIDER=webhook KILT_SMS_WEBHOOK_URL=%s)\n", s.Addr(), smsURL(s.Addr()))
	}
	return closeAll, nil
}

// sinkCounts returns what the running sinks have received so far; nil when none runs.
func sinkCounts(env *Env) *SinkUsage {
	if env.Mail == nil && env.SMS == nil {
		return nil
	}
	u := &SinkUsage{}
	if s := env.Mail; s != nil {
		u.Mail = &SinkCount{Addr: s.Addr(), Messages: s.Messages(), Connections: s.Conns()}
	}
	if s := env.SMS; s != nil {
		u.SMS = &SinkCount{Addr: s.Addr(), Messages: s.Messages()}
	}
	return u
}

// minus returns what u counts beyond before (the same sinks, counted earlier).
func (u *SinkUsage) minus(before *SinkUsage) *SinkUsage {
	if u == nil || before == nil {
		return u
	}
	if u.Mail != nil && before.Mail != nil {
		u.Mail.Messages -= before.Mail.Messages
		u.Mail.Connections -= before.Mail.Connections
	}
	if u.SMS != nil && before.SMS != nil {
		u.SMS.Messages -= before.SMS.Messages
	}
	return u
}

// gatedWriter passes writes on to w, one at a time, until it is shut; after that it drops
// them. It is safe for concurrent use.
type gatedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	shut bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		return len(p), nil
	}
	return g.w.Write(p)
}

// Shut makes every later write a no-op.
func (g *gatedWriter) Shut() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

// loadConfig reads the configuration as the server would from the same environment, with
// database (when given) as its database. The load tool's own flags are not the server's, so
// the server's settings are taken from the environment only.
func loadConfig(getenv func(string) string, database string) (*config.Config, error) {
	env := func(k string) string {
		if k == "KILT_DATABASE_URL" && database != "" {
			return database
		}
		return getenv(k)
	}
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := config.Load(fs, nil, env, config.Options{})
	if err != nil {
		return nil, fmt.Errorf("configuration from the environment: %w", err)
	}
	return cfg, nil
}
