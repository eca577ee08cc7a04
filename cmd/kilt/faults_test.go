package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"kilt/internal/kilttest"
	"kilt/internal/mail/smtptest"
	"kilt/internal/outbox"
	"kilt/internal/sqlstore"
)

// startKilt starts `kilt serve` and returns its base URL and the process, not waiting for
// it to stop at the end: fault tests kill it themselves.
func startKilt(t *testing.T, env []string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(os.Environ(), "KILT_TEST_AS_MAIN=1", "GORACE=atexit_sleep_ms=0"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Listen string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "kilt ready" {
				ready <- line.Listen
			}
		}
	}()
	select {
	case addr := <-ready:
		return "http://" + addr, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("kilt serve did not become ready")
	}
	return "", nil
}

// TestKilledMidLoadLosesNothing kills Kilt with SIGKILL in the middle of a stream of
// registrations and starts it again: every registration that was answered 202 gets its
// mail after the restart, no message marked sent before the kill is sent again, and the
// SQLite database passes its integrity check.
func TestKilledMidLoadLosesNothing(t *testing.T) {
	smtp := smtptest.Start(t, smtptest.Options{Security: smtptest.Plain})
	dbFile := filepath.Join(t.TempDir(), "kilt.db")
	env := []string{"KILT_DATABASE_URL=sqlite:" + dbFile, "KILT_BASE_URL=https://id.example.kz", "KILT_LISTEN=127.0.0.1:0",
		"KILT_LOG_FORMAT=json", "KILT_SMTP_URL=smtp://" + smtp.Addr() + "?starttls=false",
		"KILT_SMS_PROVIDER=webhook", "KILT_SMS_WEBHOOK_URL=" + kilttest.StartSMSGateway(t).URL,
		"KILT_ARGON2_MEMORY=8192", "KILT_ARGON2_TIME=1", "KILT_LIMIT_REGISTRATION_IP=0/1h",
		"KILT_OUTBOX_LEASE=3s", // claims of the killed process are taken over after 3 s
		"KILT_SECRET=" + strings.Repeat("fault-secret-", 4)}
	base, proc := startKilt(t, env)

	var accepted sync.Map // address → true, for every 202
	var next atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				addr := fmt.Sprintf("load%d@mail.kz", next.Add(1))
				body := `{"email":"` + addr + `","password":"Another-Pass-42","password_confirm":"Another-Pass-42","consent_version":"` + kilttest.ConsentVersion + `"}`
				resp, err := client.Post(base+"/api/v1/registrations", "application/json", strings.NewReader(body))
				if err != nil {
					continue // the kill: no answer, nothing promised
				}
				if resp.StatusCode == 202 {
					accepted.Store(addr, true)
				}
				resp.Body.Close()
			}
		}()
	}
	// Let the load run and some mail go out, then kill in the middle of it.
	deadline := time.Now().Add(20 * time.Second)
	for smtp.Count() < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	stop.Store(true)
	wg.Wait()

	// What the database says was sent before the kill, and its integrity.
	db, err := sqlstore.Open(context.Background(), "sqlite:"+dbFile)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow(context.Background(), `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity check after SIGKILL: %q, %v", check, err)
	}
	msgs, err := sqlstore.NewOutbox(db).List(context.Background(), outbox.Filter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	markedSent := map[string]bool{}
	waiting := 0
	for _, m := range msgs {
		if m.Status == outbox.StatusSent {
			markedSent[m.To] = true
		} else {
			waiting++
		}
	}
	n := 0
	accepted.Range(func(_, _ any) bool { n++; return true })
	t.Logf("killed after %d accepted registrations: %d mails marked sent, %d waiting", n, len(markedSent), waiting)
	if n == 0 || waiting == 0 {
		t.Logf("the kill did not land mid-delivery this time (accepted %d, waiting %d)", n, waiting)
	}

	_, proc2 := startKilt(t, env)
	defer func() { _ = proc2.Process.Signal(syscall.SIGTERM) }()
	deadline = time.Now().Add(60 * time.Second)
	for {
		got := map[string]int{}
		for _, m := range smtp.Messages() {
			got[m.To[0]]++
		}
		missing := 0
		accepted.Range(func(k, _ any) bool {
			if got[k.(string)] == 0 {
				missing++
			}
			return true
		})
		if missing == 0 {
			for addr := range markedSent {
				if got[addr] != 1 {
					t.Errorf("%s was marked sent before the kill and received %d mails", addr, got[addr])
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d accepted registrations never got their mail after the restart", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
