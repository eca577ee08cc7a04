package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"kilt/internal/config"
	"kilt/internal/server"
)

// A Scenario is one kind of load. Each lives in its own file and is listed in scenarios.
//
// The runner calls Prepare once, before the clock starts, then Do from every client in a
// loop until the run ends. What Do does is one operation as the report counts it: usually
// one HTTP request, but a scenario may make an operation of a whole flow (a recovery from
// request to new password) and report the status of its last step.
type Scenario interface {
	// Name is what the command line calls the scenario.
	Name() string
	// Summary is one line for the usage text.
	Summary() string
	// Prepare readies what the run needs (accounts, request bodies). It is not timed.
	Prepare(ctx context.Context, env *Env) error
	// Do performs client's next operation and returns its HTTP status, or 0 and the error
	// when no response came. It must be safe to call from every client at once; calls with
	// the same client number never overlap.
	Do(ctx context.Context, client int) (status int, err error)
}

// scenarios returns every scenario, in the order the usage text lists them.
func scenarios() []Scenario {
	return []Scenario{
		&login{},
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

// Env is what a scenario gets to work with.
type Env struct {
	// Target is the base URL of the service under load; it has been checked to be loopback.
	Target *url.URL
	// HTTP is the client every request goes through: connections are kept and reused, and
	// it dials nothing but loopback addresses.
	HTTP *http.Client
	// Clients is the number of concurrent clients; Accounts how many accounts to use.
	Clients, Accounts int
	// Config is the configuration as the server would read it from the same environment,
	// with the database of --database. Its Argon2 cost is the one accounts are created at.
	Config *config.Config
	// HasDatabase reports whether --database was given: a scenario that writes data first
	// refuses to guess which database the server uses.
	HasDatabase bool
	// Log receives progress lines for the person running the tool.
	Log io.Writer
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
