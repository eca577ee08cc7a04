package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"kilt/internal/sqlstore"
)

// The floor of a request scenario: a bare HTTP server in this binary, on the database under
// test, whose every request is one transaction of as many inserts as the scenario's request
// has statements in its own transaction, and nothing else (no rules, no rate limits, no
// background work). It is measured with the scenario's clients just before the run and again
// just after it, like the raw Argon2id rate, and the run's rate is given as a share of it.

// A floored scenario has a floor: FloorStatements is the statements of the transaction one
// of its requests makes before its answer.
type floored interface {
	FloorStatements() int
}

// A read-floored scenario's requests only read (userinfo, introspection: one row by its
// hash, outside any transaction): its floor reads one row by primary key a request, outside
// any transaction. A write floor would be the wrong yardstick: on PostgreSQL a commit waits
// for the log's flush, which a read never does, so a reading scenario "beat" its floor twice
// over (docs/performance.md, session 8).
type readFloored interface {
	floored
	FloorReads()
}

// floorServer is the bare server.
type floorServer struct {
	db         *sqlstore.DB
	srv        *http.Server
	url        string
	statements int
	read       bool // the read floor: one row read a request (readFloored)
	served     atomic.Int64
}

// startFloor opens the database at dbURL, makes the floor's tables and serves the floor
// (the read floor when read) on a loopback port of its own.
func startFloor(ctx context.Context, dbURL string, statements int, read bool) (*floorServer, error) {
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("floor: opening the database: %w", err)
	}
	if err := db.CreateFloor(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("floor: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("floor: %w", err)
	}
	f := &floorServer{db: db, statements: statements, read: read, url: "http://" + ln.Addr().String() + "/floor"}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

// serve reads the request's body and writes the floor's rows in one transaction, or reads
// one row (the read floor).
func (f *floorServer) serve(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxAnswer)); err != nil {
		http.Error(w, "reading the body", http.StatusBadRequest)
		return
	}
	n := f.served.Add(1)
	var err error
	if f.read {
		err = f.db.FloorRead(r.Context(), n)
	} else {
		err = f.db.FloorWrite(r.Context(), "floor-"+strconv.FormatInt(n, 10), f.statements)
	}
	if err != nil {
		http.Error(w, "database", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"accepted"}`)
}

// Close stops the server and drops the floor's table.
func (f *floorServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
	_ = f.db.DropFloor(ctx)
	_ = f.db.Close()
}

// floorLoad is the floor's load: every client posts a small JSON body to the floor.
type floorLoad struct {
	f   *floorServer
	env *Env
}

func (*floorLoad) Name() string                        { return "floor" }
func (*floorLoad) Summary() string                     { return "" }
func (*floorLoad) Prepare(context.Context, *Env) error { return nil }

func (l *floorLoad) Do(ctx context.Context, _ int) (Outcome, error) {
	status, _, err := l.env.post(ctx, l.f.url, []byte(`{"email":"floor@load.kilt.test"}`))
	return Outcome{Status: status}, err
}

// floorRate is one window of the floor.
type floorRate struct {
	OK   int64
	Wall time.Duration
}

// measureFloor runs the floor's load with clients for window.
func measureFloor(ctx context.Context, f *floorServer, env *Env, clients int, window time.Duration) floorRate {
	t := runLoad(ctx, &floorLoad{f: f, env: env}, clients, limits{Duration: window, Timeout: env.Timeout})
	return floorRate{OK: t.Successes, Wall: t.Wall}
}

// FloorResult is the floor of a run and the run's rate against it.
type FloorResult struct {
	Statements int `json:"statements_per_request"`
	// Read: the read floor, each request one row read outside any transaction.
	Read            bool    `json:"read,omitempty"`
	PerSecond       float64 `json:"requests_per_s"`
	BeforePerSecond float64 `json:"before_requests_per_s"`
	AfterPerSecond  float64 `json:"after_requests_per_s"`
	// Ratio is the run's 2xx answers per second over PerSecond (both windows together).
	Ratio float64 `json:"success_to_floor"`
}

func (f floorRate) perSecond() float64 {
	if f.Wall <= 0 {
		return 0
	}
	return float64(f.OK) / f.Wall.Seconds()
}

// setFloor adds the floor and the run's success rate as a share of it.
func (r *Result) setFloor(statements int, read bool, before, after floorRate) {
	both := floorRate{OK: before.OK + after.OK, Wall: before.Wall + after.Wall}
	f := &FloorResult{Statements: statements, Read: read, PerSecond: both.perSecond(),
		BeforePerSecond: before.perSecond(), AfterPerSecond: after.perSecond()}
	if f.PerSecond > 0 {
		f.Ratio = r.SuccessRate / f.PerSecond
	}
	r.Floor = f
}
