package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"kilt/internal/sqlstore"
)

// The floor of a request scenario: a bare HTTP server in this binary, on the database under
// test, whose every request is one transaction of as many inserts as the scenario's request
// costs Kilt's database in statements, and nothing else (no rules, no rate limits, no
// background work). It is measured with the scenario's clients just before the run and again
// just after it, like the raw Argon2id rate, and the run's rate is given as a share of it.
//
// Calibrated: with --metrics, the scenario first runs for one floor window, and the
// statements the server sent to its database for it — the request's own transaction and
// the background work it causes (the recovery processor, the outbox, the audit trail),
// counted until the server is idle again — divided by its 2xx answers are the floor's
// statements a request (rounded, at least 1). Without --metrics the floor takes the
// scenario's own count (FloorStatements). The floor's server is a child process of the tool
// (this binary run again, floorChild), so it pays a process's share of the cores and the
// scheduler as Kilt does, not the tool's.

// A floored scenario has a floor: FloorStatements is the statements of the transaction one
// of its requests makes before its answer, the floor's count when it cannot be calibrated.
type floored interface {
	FloorStatements() int
}

// A read-floored scenario's requests only read (userinfo, introspection: one row by its
// hash, outside any transaction): its floor reads, each of its statements one row by primary
// key outside any transaction. A write floor would be the wrong yardstick: on PostgreSQL a
// commit waits for the log's flush, which a read never does, so a reading scenario "beat"
// its floor 1.3–2.2 times over (docs/performance.md, session 8).
type readFloored interface {
	floored
	FloorReads()
}

// The environment that makes this binary the floor's server (floorChild).
const (
	envFloorStatements = "KILT_LOAD_FLOOR_STATEMENTS"
	envFloorDatabase   = "KILT_LOAD_FLOOR_DATABASE"
	envFloorRead       = "KILT_LOAD_FLOOR_READ" // "1": the read floor (readFloored)
)

// floorServer is the bare server, running in a child process.
type floorServer struct {
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	url        string
	statements int
	read       bool // the read floor: statements reads a request, no transaction
}

// startFloor starts the floor's server, serving statements inserts a request (reads when
// read) on the database at dbURL, in a child process, and waits for its URL.
func startFloor(ctx context.Context, dbURL string, statements int, read bool, stderr io.Writer) (*floorServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envFloorStatements+"="+strconv.Itoa(statements), envFloorDatabase+"="+dbURL)
	if read {
		cmd.Env = append(cmd.Env, envFloorRead+"=1")
	}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("floor: starting its server: %w", err)
	}
	f := &floorServer{cmd: cmd, stdin: stdin, statements: statements, read: read}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Scan()
		line <- sc.Text()
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case f.url = <-line:
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
	if !strings.HasPrefix(f.url, "http://127.0.0.1:") {
		f.Close()
		return nil, errors.New("floor: its server did not start")
	}
	return f, nil
}

// PID is the floor server's process.
func (f *floorServer) PID() int { return f.cmd.Process.Pid }

// Close stops the floor's server (which drops its table) and waits for it, at most 10 s.
func (f *floorServer) Close() {
	_ = f.stdin.Close()
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

// floorChild is the floor's server when this binary was started as one (startFloor's
// environment): it opens the database, makes the floor's table, writes its URL on stdout,
// serves until its stdin closes, then drops the table. ok is false in any other process.
func floorChild(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	n, err := strconv.Atoi(getenv(envFloorStatements))
	if getenv(envFloorStatements) == "" {
		return 0, false
	}
	if err != nil || n < 1 {
		fmt.Fprintf(stderr, "floor: %s: want a count of at least 1\n", envFloorStatements)
		return exitUsage, true
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, getenv(envFloorDatabase))
	if err != nil {
		fmt.Fprintln(stderr, "floor: opening the database:", err)
		return exitFailed, true
	}
	defer db.Close()
	if err := db.CreateFloor(ctx); err != nil {
		fmt.Fprintln(stderr, "floor:", err)
		return exitFailed, true
	}
	defer db.DropFloor(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "floor:", err)
		return exitFailed, true
	}
	var served atomic.Int64
	read := getenv(envFloorRead) == "1"
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxAnswer)); err != nil {
			http.Error(w, "reading the body", http.StatusBadRequest)
			return
		}
		i := served.Add(1)
		var err error
		if read {
			for j := int64(0); j < int64(n) && err == nil; j++ {
				err = db.FloorRead(r.Context(), i*int64(n)+j)
			}
		} else {
			err = db.FloorWrite(r.Context(), "floor-"+strconv.FormatInt(i, 10), n)
		}
		if err != nil {
			http.Error(w, "database", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"accepted"}`)
	})}
	go srv.Serve(ln)
	fmt.Fprintf(stdout, "http://%s/floor\n", ln.Addr())
	_, _ = io.Copy(io.Discard, stdin)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return exitOK, true
}

// idle waits until the servers of metrics are idle — at most 4 database statements in
// 250 ms, twice in a row — or a minute has passed, so that a window starts with no
// background work of what came before. Without metrics it returns at once.
func idle(ctx context.Context, client *http.Client, metrics []*url.URL) {
	if len(metrics) == 0 {
		return
	}
	deadline := time.Now().Add(time.Minute)
	prev := readAllCounters(ctx, client, metrics)
	quiet := 0
	for quiet < 2 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		cur := readAllCounters(ctx, client, metrics)
		if prev != nil && cur != nil && cur["statements"]-prev["statements"] <= 4 {
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
	}
}

// calibrate runs the scenario for window and returns the server's database statements per
// 2xx answer, the background work it caused counted until the server is idle again.
func calibrate(ctx context.Context, s looper, env *Env, metrics []*url.URL, clients int, window time.Duration) (float64, error) {
	idle(ctx, env.HTTP, metrics)
	before := readAllCounters(ctx, env.HTTP, metrics)
	t := runLoad(ctx, s, clients, limits{Duration: window, Timeout: env.Timeout})
	idle(ctx, env.HTTP, metrics)
	after := readAllCounters(ctx, env.HTTP, metrics)
	_, okB := before["statements"]
	_, okA := after["statements"]
	if !okB || !okA || t.Successes == 0 {
		return 0, fmt.Errorf("%d answers were 2xx, and the server's statements were read: %v", t.Successes, okA && okB)
	}
	return (after["statements"] - before["statements"]) / float64(t.Successes), nil
}

// floorStatements is the floor's statements a request for a calibrated count.
func floorStatements(perSuccess float64) int { return max(1, int(math.Round(perSuccess))) }

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

// floorRate is one window of the floor: its 2xx answers, and the CPU its server and this
// tool spent in it (zero when /proc could not be read).
type floorRate struct {
	OK     int64
	Wall   time.Duration
	Server time.Duration
	Tool   time.Duration
}

// measureFloor runs the floor's load with clients for a quarter of window unmeasured (the
// child's connections, its prepared statements, the database's pages warm), then for window.
func measureFloor(ctx context.Context, f *floorServer, env *Env, clients int, window time.Duration) floorRate {
	runLoad(ctx, &floorLoad{f: f, env: env}, clients, limits{Duration: window / 4, Timeout: env.Timeout})
	server0, errS0 := procCPU(f.PID())
	tool0, errT0 := procCPU(os.Getpid())
	t := runLoad(ctx, &floorLoad{f: f, env: env}, clients, limits{Duration: window, Timeout: env.Timeout})
	server1, errS1 := procCPU(f.PID())
	tool1, errT1 := procCPU(os.Getpid())
	r := floorRate{OK: t.Successes, Wall: t.Wall}
	if errS0 == nil && errS1 == nil && errT0 == nil && errT1 == nil {
		r.Server, r.Tool = server1.minus(server0).Total(), tool1.minus(tool0).Total()
	}
	return r
}

// FloorResult is the floor of a run and the run's rate against it.
type FloorResult struct {
	Statements int `json:"statements_per_request"`
	// Read: the read floor, each statement one row read by primary key outside any
	// transaction.
	Read bool `json:"read,omitempty"`
	// Calibrated is the server's database statements per 2xx answer of the scenario, read
	// off its metrics before the run (absent without --metrics): Statements is it rounded.
	Calibrated *float64 `json:"calibrated_statements_per_2xx,omitempty"`
	// Process is where the floor's server ran.
	Process         string  `json:"process"`
	PerSecond       float64 `json:"requests_per_s"`
	BeforePerSecond float64 `json:"before_requests_per_s"`
	AfterPerSecond  float64 `json:"after_requests_per_s"`
	// Ratio is the run's 2xx answers per second over PerSecond (both windows together).
	Ratio float64 `json:"success_to_floor"`
	// ServerMS and ToolMS are the CPU (user and system) the floor's server and this tool
	// spent per request in both windows: what the floor's rate costs the machine, beside the
	// run's own figures per 2xx. Absent when /proc could not be read.
	ServerMS *float64 `json:"server_ms_per_request,omitempty"`
	ToolMS   *float64 `json:"tool_ms_per_request,omitempty"`
}

func (f floorRate) perSecond() float64 {
	if f.Wall <= 0 {
		return 0
	}
	return float64(f.OK) / f.Wall.Seconds()
}

// setFloor adds the floor and the run's success rate as a share of it.
func (r *Result) setFloor(fl *floorServer, calibrated *float64, before, after floorRate) {
	both := floorRate{OK: before.OK + after.OK, Wall: before.Wall + after.Wall}
	f := &FloorResult{Statements: fl.statements, Read: fl.read, Calibrated: calibrated,
		Process: fmt.Sprintf("a child process of kilt-load (pid %d)", fl.PID()), PerSecond: both.perSecond(),
		BeforePerSecond: before.perSecond(), AfterPerSecond: after.perSecond()}
	if server := before.Server + after.Server; server > 0 && both.OK > 0 {
		perRequest := func(d time.Duration) *float64 {
			ms := float64(d) / float64(time.Millisecond) / float64(both.OK)
			return &ms
		}
		f.ServerMS, f.ToolMS = perRequest(server), perRequest(before.Tool+after.Tool)
	}
	if f.PerSecond > 0 {
		f.Ratio = r.SuccessRate / f.PerSecond
	}
	r.Floor = f
}
