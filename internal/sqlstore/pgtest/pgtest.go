// Package pgtest gives tests a real PostgreSQL: a private server started once per test
// binary, on demand, in a temporary directory, and a fresh database for every caller.
//
// Use it from TestMain, so that the server is stopped when the tests end:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
//
// and in a test:
//
//	url := pgtest.URL(t) // postgres://kilt@127.0.0.1:PORT/kilt_test_N?sslmode=disable
//
// The binaries are taken from $KILT_PG_BIN, else from the newest /usr/lib/postgresql/*/bin,
// else from the PATH. When PostgreSQL cannot be started, URL skips the test, unless CI=true
// or KILT_TEST_POSTGRES=1, where it fails it: there, the real component is required.
//
// The server trades durability for speed (fsync, synchronous_commit and full_page_writes
// off): its data is thrown away at the end. It listens on 127.0.0.1 only and trusts every
// local connection, which is acceptable for a server that lives as long as a test binary.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

const (
	startTimeout = 20 * time.Second // for the server to accept connections
	stopTimeout  = 15 * time.Second // for a fast shutdown before the process is killed
	superuser    = "kilt"
)

var (
	mu        sync.Mutex
	running   bool    // Run is in progress
	attempted bool    // a start was attempted; srv or startErr holds its outcome
	srv       *server // the started server, until stopped
	startErr  error
	dbSeq     atomic.Int64
)

// Run runs the tests of m and then stops the server if one was started. It returns m's exit
// code, for os.Exit.
func Run(m *testing.M) int {
	mu.Lock()
	running = true
	mu.Unlock()
	defer stop()
	return m.Run()
}

// URL returns the URL of a new, empty database on the test server, starting the server if
// this is the first call. The database is not dropped: the whole server is thrown away when
// Run ends.
func URL(tb testing.TB) string {
	tb.Helper()
	s, err := server1()
	if err != nil {
		if required() {
			tb.Fatalf("pgtest: PostgreSQL is required here (CI=true or KILT_TEST_POSTGRES=1) but could not be started: %v", err)
		}
		tb.Skipf("pgtest: skipped, PostgreSQL could not be started: %v (`make test` installs it; KILT_PG_BIN may name its bin directory)", err)
	}
	name := fmt.Sprintf("kilt_test_%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	return s.url(name)
}

// required reports whether a test must fail, rather than skip, without PostgreSQL.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("KILT_TEST_POSTGRES") == "1"
}

// server1 returns the one server of the process, starting it on the first call. A failed
// start is not retried: every later caller gets the same error.
func server1() (*server, error) {
	mu.Lock()
	defer mu.Unlock()
	if !running {
		// Without Run, nothing would stop the server when the tests end.
		return nil, errors.New("pgtest.Run is not in use: call os.Exit(pgtest.Run(m)) from TestMain")
	}
	if !attempted {
		attempted = true
		srv, startErr = start()
	}
	return srv, startErr
}

// stop stops the server, if one was started, and removes its directory.
func stop() {
	mu.Lock()
	defer mu.Unlock()
	running = false
	if srv != nil {
		srv.stop()
		srv = nil
		startErr = errors.New("the test server was stopped")
	}
}

// server is a running PostgreSQL started by this process.
type server struct {
	dir    string // temporary directory: data/, the socket, postgres.log
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been waited for
	admin  *sql.DB       // connected to the "postgres" database as the superuser
}

func (s *server) url(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, database)
}

// start initialises a cluster in a new temporary directory and starts a server on it.
func start() (_ *server, err error) {
	bin, err := findBin(os.Getenv("KILT_PG_BIN"))
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to root, and the server may run as another user.
	dir, err := os.MkdirTemp("", "kilt-pgtest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the server keeps its own descriptor

	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", superuser, "-A", "trust",
		"--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, tail(out))
	}

	// The port is chosen free but could be taken before the server binds it: try again.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launch(bin, dir, data, port, cred, logFile)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			log, _ := os.ReadFile(logFile.Name())
			return nil, fmt.Errorf("%v; server log: %s", err, tail(log))
		}
	}
}

// launch starts postgres on port and waits until it accepts connections.
func launch(bin, dir, data string, port int, cred *syscall.Credential, logFile *os.File) (*server, error) {
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	setParentDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	s := &server{dir: dir, port: port, cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()

	cfg, err := pgx.ParseConfig(s.url("postgres"))
	if err != nil {
		s.kill()
		return nil, err
	}
	s.admin = stdlib.OpenDB(*cfg)

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.admin.PingContext(ctx)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			s.admin.Close()
			return nil, fmt.Errorf("postgres exited while starting (%v)", cmd.ProcessState)
		case <-deadline.C:
			s.stop()
			return nil, fmt.Errorf("postgres did not accept connections within %v: %v", startTimeout, err)
		case <-poll.C:
		}
	}
}

// stop asks the server for a fast shutdown (SIGINT: disconnect clients, then exit), kills it
// if it does not exit in time, and removes its directory. Only the process this package
// started is signalled.
func (s *server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.kill()
	}
	os.RemoveAll(s.dir)
}

// kill ends the server at once and waits for it to exit.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// findBin returns the directory holding initdb and postgres: dir if given, else the newest
// /usr/lib/postgresql/*/bin, else the directory of initdb on the PATH.
func findBin(dir string) (string, error) {
	if dir != "" {
		if err := hasBinaries(dir); err != nil {
			return "", fmt.Errorf("KILT_PG_BIN=%s: %w", dir, err)
		}
		return dir, nil
	}
	if dir := newestInstalled("/usr/lib/postgresql"); dir != "" {
		return dir, nil
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", errors.New("no PostgreSQL binaries: none in KILT_PG_BIN, /usr/lib/postgresql/*/bin or the PATH")
	}
	dir = filepath.Dir(initdb)
	if err := hasBinaries(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// newestInstalled returns the bin directory of the highest major version under root (the
// Debian layout, root/15/bin), or "" if there is none.
func newestInstalled(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	type install struct {
		version float64
		bin     string
	}
	var found []install
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64) // "15", or "9.6" for old releases
		bin := filepath.Join(root, e.Name(), "bin")
		if err != nil || hasBinaries(bin) != nil {
			continue
		}
		found = append(found, install{v, bin})
	}
	if len(found) == 0 {
		return ""
	}
	sort.Slice(found, func(i, j int) bool { return found[i].version > found[j].version })
	return found[0].bin
}

func hasBinaries(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", filepath.Join(dir, name))
		}
	}
	return nil
}

// credential returns, when this process is root, the identity of the postgres user, since
// initdb and postgres refuse to run as root; otherwise nil, to run them as ourselves.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a command's output, enough to show why it failed.
func tail(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
