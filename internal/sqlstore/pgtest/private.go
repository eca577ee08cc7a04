package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Private is a PostgreSQL server of one test's own, which the test may stop and start
// again on the same data and port — for fault tests of an outage. It is stopped and its
// directory removed when the test ends.
type Private struct {
	bin, dir, data string
	port           int
	cred           *syscall.Credential
	srv            *server
}

// StartPrivate initialises and starts a private server, skipping or failing the test as
// URL does when PostgreSQL cannot be started.
func StartPrivate(tb testing.TB) *Private {
	tb.Helper()
	p, err := startPrivate()
	if err != nil {
		if required() {
			tb.Fatalf("pgtest: PostgreSQL is required here (CI=true or KILT_TEST_POSTGRES=1) but could not be started: %v", err)
		}
		tb.Skipf("pgtest: skipped, PostgreSQL could not be started: %v", err)
	}
	tb.Cleanup(func() {
		if p.srv != nil {
			p.srv.stop() // also removes the directory
		} else {
			os.RemoveAll(p.dir)
		}
	})
	return p
}

func startPrivate() (*Private, error) {
	bin, err := findBin(os.Getenv("KILT_PG_BIN"))
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kilt-pgtest-private-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	p := &Private{bin: bin, dir: dir, data: filepath.Join(dir, "data"), cred: cred}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", p.data, "-U", superuser, "-A", "trust",
		"--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, tail(out))
	}
	if p.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := p.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

func (p *Private) launch() error {
	logFile, err := os.OpenFile(filepath.Join(p.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	p.srv, err = launch(p.bin, p.dir, p.data, p.port, p.cred, logFile)
	return err
}

// URL creates a database on the server and returns its URL.
func (p *Private) URL(tb testing.TB, name string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.srv.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	return p.srv.url(name)
}

// Stop shuts the server down (fast: clients are disconnected), keeping its data.
func (p *Private) Stop(tb testing.TB) {
	tb.Helper()
	if p.srv == nil {
		return
	}
	p.srv.admin.Close()
	_ = p.srv.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.srv.exited:
	case <-time.After(stopTimeout):
		p.srv.kill()
	}
	p.srv = nil
}

// Start starts the stopped server again on the same data and port.
func (p *Private) Start(tb testing.TB) {
	tb.Helper()
	if p.srv != nil {
		return
	}
	if err := p.launch(); err != nil {
		tb.Fatalf("pgtest: restarting PostgreSQL: %v", err)
	}
}
