package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kilt/internal/kilttest"
	"kilt/internal/outbox"
	"kilt/internal/sqlstore"
	"kilt/internal/sqlstore/pgtest"
)

// TestMain lets the test binary be the kilt command itself (KILT_TEST_AS_MAIN=1), so the
// tests run the real program in its own process without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("KILT_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(pgtest.Run(m))
}

// kilt runs the command in a child process with the given environment and stdin.
func runKilt(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "KILT_TEST_AS_MAIN=1", "GORACE=atexit_sleep_ms=0"), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// TestUserAddThenSignIn is the operator's path: create an account with the CLI, start the
// service, sign in through the API — on SQLite and on PostgreSQL.
func TestUserAddThenSignIn(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := []string{"KILT_DATABASE_URL=" + kilttest.DatabaseURL(t, dialect), "KILT_BASE_URL=http://localhost:8080",
				"KILT_LISTEN=127.0.0.1:0", "KILT_LOG_FORMAT=json",
				"KILT_SMTP_URL=smtp://127.0.0.1:1?starttls=false", "KILT_SMS_PROVIDER=webhook",
				"KILT_SMS_WEBHOOK_URL=" + kilttest.StartSMSGateway(t).URL}
			const pw = "Saryarka-Steppe-9"
			out, errOut, code := runKilt(t, env, pw+"\n", "user", "add", "--email", "Operator@Example.KZ", "--password-stdin")
			if code != 0 || !strings.Contains(out, "account 1 created") {
				t.Fatalf("user add: exit %d, %q %q", code, out, errOut)
			}
			_, errOut, code = runKilt(t, env, "password1\n", "user", "add", "--phone", "87011234567", "--password-stdin")
			if code != 1 || !strings.Contains(errOut, "password_no_upper") || !strings.Contains(errOut, "password_no_special") {
				t.Errorf("weak password: exit %d %q, want 1 naming the broken rules", code, errOut)
			}
			if strings.Contains(errOut, "password1") {
				t.Errorf("the error shows the password: %q", errOut)
			}

			base, stop := startServe(t, t.TempDir(), env)
			defer stop()
			body := `{"identifier":"operator@example.kz","password":"` + pw + `"}`
			resp, err := http.Post(base+"/api/v1/sessions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 || !strings.Contains(string(data), `"token"`) {
				t.Errorf("sign-in: got %d %s, want 201 with a token", resp.StatusCode, data)
			}

			out, _, code = runKilt(t, env, "", "user", "show", "operator@example.kz")
			if code != 0 || !strings.Contains(out, "Operator@example.kz (verified: yes)") || !strings.Contains(out, "argon2id m=19456,t=2,p=1") ||
				!strings.Contains(out, "consent:             none recorded") {
				t.Errorf("user show: exit %d\n%s", code, out)
			}
			if _, _, code = runKilt(t, env, "", "user", "lock", "1"); code != 0 {
				t.Errorf("user lock: exit %d", code)
			}
			out, _, _ = runKilt(t, env, "", "user", "show", "1")
			for _, want := range []string{"recent events:", "login_succeeded", "127.0.0.1", "account_locked"} {
				if !strings.Contains(out, want) {
					t.Errorf("user show lacks %q:\n%s", want, out)
				}
			}
			resp, err = http.Post(base+"/api/v1/sessions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Errorf("sign-in when locked: got %d, want 403", resp.StatusCode)
			}
			if _, _, code = runKilt(t, env, "", "user", "unlock", "operator@example.kz"); code != 0 {
				t.Errorf("user unlock: exit %d", code)
			}
			if _, errOut, code = runKilt(t, env, "", "user", "show", "nobody@example.kz"); code != 1 || !strings.Contains(errOut, "no such account") {
				t.Errorf("show unknown: exit %d %q", code, errOut)
			}
		})
	}
}

// startServe starts `kilt serve` and returns its base URL once it is ready, and a function
// that stops it with SIGTERM and waits for a clean exit.
func startServe(t *testing.T, dir string, env []string, extra ...string) (string, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, extra...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "KILT_TEST_AS_MAIN=1", "GORACE=atexit_sleep_ms=0"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	var logBuf bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logBuf.WriteString(sc.Text() + "\n")
			var line struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "kilt ready" {
				ready <- line.Listen
			}
		}
		close(ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case <-time.After(30 * time.Second):
	}
	if addr == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("kilt serve did not become ready:\n%s", logBuf.String())
	}
	t.Logf("kilt serve ready in %v (process start to ready, as measured by the test)", time.Since(start).Round(time.Millisecond))
	return "http://" + addr, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kilt serve exited with %v after SIGTERM", err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("kilt serve did not stop on SIGTERM")
		}
	}
}

func TestServeDevInAFreshDirectory(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir, []string{"KILT_LOG_FORMAT=json"}, "--dev", "--listen", "127.0.0.1:0")
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz: %d", resp.StatusCode)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "kilt-data", "kilt.db")); err != nil {
		t.Errorf("--dev did not keep its database in ./kilt-data: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	secret := strings.Repeat("abcdefgh", 5)
	tests := []struct {
		name     string
		env      []string
		args     []string
		code     int
		want     string
		wantNot  string
		inStderr bool
	}{
		{name: "no command", code: 2, want: "Usage:", inStderr: true},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, want: `unknown command "frobnicate"`, inStderr: true},
		{name: "version", args: []string{"version"}, want: "kilt "},
		{name: "config check masks", args: []string{"config", "check", "--dev"}, env: []string{"KILT_SECRET=" + secret},
			want: "KILT_SECRET=****** (set)", wantNot: secret},
		{name: "config check lists every problem", args: []string{"config", "check"},
			env: []string{"KILT_LISTEN=nowhere", "KILT_DEFAULT_LANG=fr"}, code: 1, want: "KILT_DEFAULT_LANG", inStderr: true},
		{name: "serve needs a base URL", args: []string{"serve"}, code: 1, want: "KILT_BASE_URL is required", inStderr: true},
		{name: "user without subcommand", args: []string{"user"}, code: 2, want: "want add, show, lock or unlock", inStderr: true},
		{name: "user add without identifier", args: []string{"user", "add", "--password-stdin"}, code: 2, want: "--email", inStderr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"KILT_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "k.db")}, tt.env...)
			out, errOut, code := runKilt(t, env, "", tt.args...)
			got := out
			if tt.inStderr {
				got = errOut
			}
			if code != tt.code || !strings.Contains(got, tt.want) {
				t.Errorf("exit %d, want %d; output %q, want it to contain %q (stderr %q)", code, tt.code, got, tt.want, errOut)
			}
			if tt.wantNot != "" && strings.Contains(out+errOut, tt.wantNot) {
				t.Errorf("output shows %q", tt.wantNot)
			}
		})
	}
}

func TestOutboxCommands(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	env := []string{"KILT_DATABASE_URL=" + dbURL}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	store := sqlstore.NewOutbox(db)
	now := time.Now().UTC()
	link := &outbox.Message{Channel: outbox.Email, Kind: outbox.RecoveryLink, Lang: "kk", To: "aigerim@mail.kz",
		Params: map[string]string{"minutes": "30"}, Secret: map[string]string{"link": "https://x/r?token=SECRET-TOKEN"}, CreatedAt: now}
	notice := &outbox.Message{Channel: outbox.SMS, Kind: outbox.PasswordChanged, Lang: "ru", To: "+77011234567",
		Params: map[string]string{"time": now.Format(time.RFC3339), "recovery_url": "https://x/recovery"}, CreatedAt: now}
	for _, m := range []*outbox.Message{link, notice} {
		if err := store.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var claimed []outbox.Message
	for _, ch := range []outbox.Channel{outbox.Email, outbox.SMS} {
		got, err := store.Claim(ctx, ch, "test", now, time.Minute, 10)
		if err != nil || len(got) != 1 {
			t.Fatal(got, err)
		}
		claimed = append(claimed, got...)
	}
	for _, m := range claimed {
		if err := store.MarkFailed(ctx, m.ID, "test", now, outbox.Failure{Abandon: true, Error: "550 mailbox unavailable"}); err != nil {
			t.Fatal(err)
		}
	}

	out, errOut, code := runKilt(t, env, "", "outbox", "list")
	if code != 0 || !strings.Contains(out, "a***@mail.kz") || !strings.Contains(out, "+7********67") ||
		!strings.Contains(out, "abandoned") || !strings.Contains(out, "550 mailbox unavailable") {
		t.Errorf("outbox list: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "aigerim@") || strings.Contains(out, "SECRET-TOKEN") {
		t.Errorf("outbox list shows a recipient or a secret:\n%s", out)
	}
	if _, errOut, code = runKilt(t, env, "", "outbox", "retry", strconv.FormatInt(link.ID, 10)); code != 1 || !strings.Contains(errOut, "must ask for a new one") {
		t.Errorf("retry of an erased link: exit %d %q", code, errOut)
	}
	if out, _, code = runKilt(t, env, "", "outbox", "retry", strconv.FormatInt(notice.ID, 10)); code != 0 || !strings.Contains(out, "will be sent again") {
		t.Errorf("retry of a notice: exit %d %q", code, out)
	}
	if out, _, _ = runKilt(t, env, "", "outbox", "list", "--status", "pending"); !strings.Contains(out, "password_changed") || strings.Contains(out, "recovery_link") {
		t.Errorf("list --status pending:\n%s", out)
	}
	if _, errOut, code = runKilt(t, env, "", "outbox", "retry", "999"); code != 1 || !strings.Contains(errOut, "no such message") {
		t.Errorf("retry unknown: exit %d %q", code, errOut)
	}
	if _, _, code = runKilt(t, env, "", "outbox", "retry", "abc"); code != 2 {
		t.Errorf("retry abc: exit %d, want 2", code)
	}
}

// TestGracefulStop: on SIGTERM /readyz turns unready while the service still answers, then
// the process stops cleanly.
func TestGracefulStop(t *testing.T) {
	env := []string{"KILT_LOG_FORMAT=json", "KILT_DRAIN_DELAY=1500ms"}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "serve", "--dev", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "KILT_TEST_AS_MAIN=1", "GORACE=atexit_sleep_ms=0"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	stopping := make(chan struct{}) // the server logs "stopping" once /readyz is unready
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Listen string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case "kilt ready":
				addr <- line.Listen
			case "stopping":
				close(stopping)
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("not ready")
	}
	get := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/readyz"); s != 200 {
		t.Fatalf("readyz before: %d", s)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopping:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no \"stopping\" line after SIGTERM")
	}
	if r, h := get("/readyz"), get("/healthz"); r != 503 || h != 200 {
		t.Errorf("while draining: readyz %d healthz %d, want 503 and 200", r, h)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("did not stop")
	}
	if s := get("/healthz"); s != -1 {
		t.Errorf("still answering after the stop: %d", s)
	}
}

// TestServeRefusesABadBrand: `kilt serve` does not start with a brand it cannot honour; each
// mistake is named on standard error and the exit status is 1.
func TestServeRefusesABadBrand(t *testing.T) {
	dir := t.TempDir()
	texts := func(name, lang, body string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, lang+".json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name string
		env  string
		want string
	}{
		{"a colour white text is unreadable on", "KILT_BRAND_COLOR=#f0f0f0", "KILT_BRAND_COLOR \"#f0f0f0\": white text on it has a contrast of"},
		{"a missing logo", "KILT_BRAND_LOGO=" + filepath.Join(dir, "nowhere.svg"), "KILT_BRAND_LOGO"},
		{"an unknown override key", "KILT_TEXTS_DIR=" + texts("unknown", "en", `{"welcome_banner": "Hello"}`),
			`en.json: key "welcome_banner": no such message in the catalogs`},
		{"a manual label changed", "KILT_TEXTS_DIR=" + texts("locked", "kk", `{"button_save": "Сақтап қою"}`),
			`kk.json: key "button_save": is a label of the portal's manual`},
		{"placeholders that do not match", "KILT_TEXTS_DIR=" + texts("placeholders", "ru", `{"support_contact": "Звоните: {phone}"}`),
			`ru.json: key "support_contact": placeholders {phone}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"KILT_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "k.db"), tt.env}
			out, errOut, code := runKilt(t, env, "", "serve", "--dev", "--listen", "127.0.0.1:0")
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want 1; stderr %q, want it to contain %q (stdout %q)", code, errOut, tt.want, out)
			}
		})
	}
}
