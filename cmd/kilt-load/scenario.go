package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"kilt/internal/config"
	"kilt/internal/server"
)

// A Scenario is one kind of load. Each lives in its own file and is listed in scenarios.
//
// The runner calls Prepare once, before the clock starts, then either Do from every client
// in a loop until the run ends (a looper: most scenarios), or Measure once (a measurer:
// the server does the work by itself and the tool watches).
type Scenario interface {
	// Name is what the command line calls the scenario.
	Name() string
	// Summary is one line for the usage text.
	Summary() string
	// Prepare readies what the run needs (accounts, request bodies). It is not timed.
	Prepare(ctx context.Context, env *Env) error
}

// A looper is a scenario of client operations. What Do does is one operation as the report
// counts it: usually one HTTP request, but a scenario may make an operation of a whole flow
// (a recovery from request to new password) and report the status of its last step.
type looper interface {
	Scenario
	// Do performs client's next operation. It returns what the operation came to, and an
	// error when no answer came (the outcome's Class and Steps still count then). It must
	// be safe to call from every client at once; calls with the same client number never
	// overlap.
	Do(ctx context.Context, client int) (Outcome, error)
}

// An Outcome is what one operation came to.
type Outcome struct {
	// Status is the HTTP status of the operation's last answer; 0 when none came.
	Status int
	// Class sorts operations whose latencies the report gives apart as well ("known" and
	// "unknown" identifiers, which must look alike); "" for none.
	Class string
	// Steps are the timed parts of an operation made of several (request, code, verify,
	// reset), in order; the report gives each step's latencies.
	Steps []Step
}

// A Step is one timed part of an operation.
type Step struct {
	Name     string
	Duration time.Duration
}

// A measurer is a scenario that is not a loop of client operations: the server does the
// work by itself (its outbox dispatcher) and the tool watches. The tally Measure returns is
// reported like a looper's.
type measurer interface {
	Scenario
	Measure(ctx context.Context, lim limits) *tally
}

// A unitNamer is a scenario whose operations are not single requests: Unit names them in
// the plural ("recoveries", "messages") for the report's rates.
type unitNamer interface {
	Unit() string
}

// A noter is a scenario with figures of its own for the report, asked after the run.
type noter interface {
	Notes() []Note
}

// A sinkUser is a scenario whose messages the tool must receive: the sinks it names are
// started (see sink.go) before Prepare, at the addresses of --smtp-listen and --sms-listen.
type sinkUser interface {
	Sinks() (mail, sms bool)
}

// An accountDefaulter is a scenario that needs more accounts than clients when --accounts
// is not given: DefaultAccounts is how many for clients.
type accountDefaulter interface {
	DefaultAccounts(clients int) int
}

// A requirer is a scenario that measures what it means to only when the server runs with
// certain settings; see requirement.
type requirer interface {
	Requirements(a sinkAddrs) []requirement
}

// scenarios returns every scenario, in the order the usage text lists them.
func scenarios() []Scenario {
	return []Scenario{
		&login{},
		newRecoveryEmail(),
		newRecoveryPhone(),
		&fullRecovery{},
		&resetMix{},
		&delivery{},
		&ssoCode{},
		&ssoRefresh{},
		&ssoUserinfo{},
		&ssoIntrospect{},
	}
}

// findScenario returns the scenario called name, or nil.
func findScenario(name string) Scenario {
	for _, s := range scenarios() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// unitOf returns the plural noun of s's operations.
func unitOf(s Scenario) string {
	if u, ok := s.(unitNamer); ok {
		return u.Unit()
	}
	return "requests"
}

// Env is what a scenario gets to work with.
type Env struct {
	// Target is the base URL of the service under load; it has been checked to be loopback.
	Target *url.URL
	// HTTP is the client every request goes through: connections are kept and reused, and
	// it dials nothing but loopback addresses.
	HTTP *http.Client
	// Clients is the number of concurrent clients; Accounts how many accounts to use.
	Clients, Accounts int
	// Count is --count: the operations the run stops after, 0 when not given.
	Count int64
	// Timeout bounds one request, and one wait for a message to arrive at a sink.
	Timeout time.Duration
	// Config is the configuration as the server would read it from the same environment,
	// with the database of --database. Its Argon2 cost is the one accounts are created at.
	Config *config.Config
	// HasDatabase reports whether --database was given: a scenario that writes data first
	// refuses to guess which database the server uses.
	HasDatabase bool
	// Mail and SMS are the tool's own SMTP server and SMS webhook, when running.
	Mail *mailSink
	SMS  *smsSink
	// Log receives progress lines for the person running the tool.
	Log io.Writer
	// ForwardedFor is --forwarded-for: when more than 0, post sends each request as from the
	// next of that many client addresses (forwardedAddr), in turn.
	ForwardedFor int
	forwarded    atomic.Int64
	// bases are the targets' scheme://host, when there are several: post sends each request
	// to the next of them in turn (what a round-robin proxy does).
	bases []string
	turn  atomic.Int64
}

// setTargets records the targets requests go to in turn.
func (e *Env) setTargets(targets []*url.URL) {
	if len(targets) < 2 {
		return
	}
	for _, t := range targets {
		e.bases = append(e.bases, t.Scheme+"://"+t.Host)
	}
}

// nextTarget returns url sent to the next target in turn, when it is one of the first.
func (e *Env) nextTarget(url string) string {
	if len(e.bases) == 0 || !strings.HasPrefix(url, e.bases[0]+"/") {
		return url
	}
	i := e.turn.Add(1) % int64(len(e.bases))
	return e.bases[i] + url[len(e.bases[0]):]
}

// forwardedBlock is where --forwarded-for takes client addresses from: 198.18.0.0/15, the
// block RFC 2544 sets aside for benchmarks, which no real client has.
const forwardedBlock = "198.18.0.0/15"

// maxForwardedFor is the number of addresses in forwardedBlock.
const maxForwardedFor = 1 << 17

// forwardedAddr returns the i-th address of forwardedBlock (0 ≤ i < maxForwardedFor).
func forwardedAddr(i int) string {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}).String()
}

// OpenApp opens the server's database and services, as the service itself does (migrations
// included), for a scenario to create its data directly. The caller closes it.
func (e *Env) OpenApp(ctx context.Context) (*server.App, error) {
	log := slog.New(slog.NewTextHandler(e.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return server.Open(ctx, e.Config, log, nil, io.Discard)
}

// endpoint returns the absolute URL of path on the target.
func (e *Env) endpoint(path string) string {
	u := *e.Target
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}

// maxAnswer bounds what is read of one answer: no answer of Kilt's comes near it.
const maxAnswer = 1 << 20

// post sends body as JSON to the absolute URL and returns the status and the answer's body,
// read to the end so that the connection goes back to the pool for the next request.
func (e *Env) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.nextTarget(url), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if e.ForwardedFor > 0 {
		n := e.forwarded.Add(1) - 1
		req.Header.Set("X-Forwarded-For", forwardedAddr(int(n%int64(e.ForwardedFor))))
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}
