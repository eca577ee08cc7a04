// Command kilt-load is Kilt's load tool: it measures the service the way SPEC §7 states
// its performance targets, as rates and ratios taken in one run on one machine.
//
//	kilt-load [flags] SCENARIO
//
// A scenario (one file each; see Scenario) prepares its data — accounts are created
// directly in the server's database, not through the API, so that only what is being
// measured is measured — then concurrent clients repeat its operation until the run's time
// or count is up. The report gives throughput, exact latency percentiles (every duration is
// kept and sorted; nothing is bucketed), answers by HTTP status and transport errors, and,
// with --pid, the server's CPU time and peak memory read from /proc. With --argon2 it also
// measures the raw Argon2id rate of the machine at the configured cost and gives the run's
// rate of successes as a percentage of it (SPEC §7: login ≥ 90 % of the raw rate).
//
// Safety: load only ever goes to this machine. A --url whose host is not 127.0.0.0/8, ::1
// or localhost is refused, the client checks every address it dials again, ignores
// HTTP_PROXY and follows no redirect. Every run ends by itself: --duration is at most 10
// minutes, --count runs under the same cap, and requests in flight when the time is up
// get their own timeout and a few seconds more. Ctrl-C stops the clients, drops the
// operations it cut short, and still prints what was measured; a second Ctrl-C kills.
//
// The tool runs on the machine it measures and takes CPU from the server; the report shows
// how much ("client CPU").
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
	"syscall"
	"time"

	"kilt/internal/config"
	"kilt/internal/password"
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
	json        bool
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "Usage: kilt-load [flags] SCENARIO\n\nScenarios:\n")
	for _, s := range scenarios() {
		fmt.Fprintf(w, "  %-8s %s\n", s.Name(), s.Summary())
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.PrintDefaults()
	fmt.Fprint(w, "\nThe configuration (KILT_ARGON2_*, KILT_HASH_WORKERS, KILT_SECRET, …) is read from the\n"+
		"environment like the server reads it: give the tool the server's environment.\n")
}

// parseArgs reads the command line. Flags may come before and after the scenario.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kilt-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(stderr, fs) }
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the service under load; only loopback addresses are accepted")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "stop after this long (at most 10m)")
	fs.Int64Var(&o.count, "count", 0, "stop after this many operations (at most 10,000,000; still within 10m)")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "longest one request may take")
	fs.IntVar(&o.pid, "pid", 0, "process ID of the server: report its CPU time and peak RSS during the run")
	fs.StringVar(&o.database, "database", "", "the server's KILT_DATABASE_URL, for scenarios that create data before the run")
	fs.IntVar(&o.accounts, "accounts", 0, "accounts to create and use (default: --concurrency)")
	fs.BoolVar(&o.argon2, "argon2", false, "also measure the raw Argon2id rate at the configured cost and compare")
	fs.DurationVar(&o.argon2Time, "argon2-time", 3*time.Second, "how long --argon2 measures (at most 1m)")
	fs.BoolVar(&o.json, "json", false, "write the result as JSON to stdout (the table then goes to stderr)")
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
		if f.Name == "duration" {
			o.durationSet = true
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
	}
	if o.count > 0 && !o.durationSet {
		// A count alone still runs under the hard cap.
		o.duration = maxDuration
	}
	if o.accounts == 0 {
		o.accounts = o.concurrency
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
	target, err := parseTarget(o.url)
	if err != nil {
		return exitUsage, err
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
	if o.accounts < o.concurrency {
		fmt.Fprintf(stderr, "warning: %d accounts for %d clients: clients sharing an account sign in concurrently, "+
			"which counts as failed attempts until each succeeds, and may be slowed down (429)\n", o.accounts, o.concurrency)
	}
	env := &Env{
		Target: target, HTTP: newHTTPClient(o.concurrency, o.timeout),
		Clients: o.concurrency, Accounts: o.accounts,
		Config: cfg, HasDatabase: o.database != "", Log: stderr,
	}
	defer env.HTTP.CloseIdleConnections()

	if err := o.scenario.Prepare(ctx, env); err != nil {
		if ctx.Err() != nil {
			return exitInterrupted, errors.New("interrupted while preparing")
		}
		return exitFailed, fmt.Errorf("preparing %s: %w", o.scenario.Name(), err)
	}

	var raw *rawRate
	if o.argon2 {
		p := password.Params{Memory: cfg.Argon2Memory, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads}
		fmt.Fprintf(stderr, "measuring the raw Argon2id rate (%s) for %v…\n", p, o.argon2Time)
		r := measureArgon2(ctx, p, o.argon2Time)
		if ctx.Err() != nil {
			return exitInterrupted, errors.New("interrupted while measuring Argon2id")
		}
		raw = &r
	}

	var server *watch
	if o.pid > 0 {
		if server, err = startWatch(o.pid); err != nil {
			return exitFailed, fmt.Errorf("--pid %d: %v", o.pid, err)
		}
	}
	selfCPU, err := procCPU(os.Getpid())
	if err != nil {
		return exitFailed, fmt.Errorf("reading this process's CPU time: %v", err)
	}
	selfStart := time.Now()
	stopAt := o.duration.String()
	if o.count > 0 {
		stopAt = fmt.Sprintf("%d operations (at most %v)", o.count, o.duration)
	}
	fmt.Fprintf(stderr, "running %s: %d clients against %s until %s…\n", o.scenario.Name(), o.concurrency, target, stopAt)

	t := runLoad(ctx, o.scenario, o.concurrency, limits{Duration: o.duration, Count: o.count, Timeout: o.timeout})

	res := newResult(o.scenario, env, t)
	if cpu, err := procCPU(os.Getpid()); err == nil {
		res.Client = ProcessUsage{PID: os.Getpid(), CPUSeconds: (cpu - selfCPU).Seconds(),
			CPUCores: (cpu - selfCPU).Seconds() / time.Since(selfStart).Seconds()}
	}
	var serverErr error
	if server != nil {
		u, err := server.stop()
		if err != nil {
			serverErr = fmt.Errorf("the server's usage is missing: %v", err)
		} else {
			res.Server = processUsage(o.pid, u)
		}
	}
	if raw != nil {
		res.setArgon2(*raw)
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
