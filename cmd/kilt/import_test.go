package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/kilttest"
	"kilt/internal/password"
	"kilt/internal/sqlstore"
	"kilt/internal/userimport"
)

// quickExit keeps a child built with -race from sleeping a second before it exits (the race
// detector's default, to let reports print), which these tests would pay on every command.
var quickExit = "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")

// importEnv is the environment of a kilt that imports and then serves.
func importEnv(t *testing.T, dialect string) []string {
	t.Helper()
	return []string{quickExit, "KILT_DATABASE_URL=" + kilttest.DatabaseURL(t, dialect), "KILT_BASE_URL=http://localhost:8080",
		"KILT_LISTEN=127.0.0.1:0", "KILT_LOG_FORMAT=json",
		"KILT_SMTP_URL=smtp://127.0.0.1:1?starttls=false", "KILT_SMS_PROVIDER=webhook",
		"KILT_SMS_WEBHOOK_URL=" + kilttest.StartSMSGateway(t).URL}
}

func bcryptHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), password.MinImportBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// argon2iHash is pw's hash as another system running Argon2i would have stored it.
func argon2iHash(pw string) string {
	salt := []byte("imported-salt-16")
	key := argon2.Key([]byte(pw), salt, 5, 8192, 1, 32)
	return fmt.Sprintf("$argon2i$v=19$m=8192,t=5,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// signIn posts a sign-in to the API and returns the status.
func signIn(t *testing.T, base, identifier, pw string) int {
	t.Helper()
	body := fmt.Sprintf(`{"identifier":%q,"password":%q}`, identifier, pw)
	resp, err := http.Post(base+"/api/v1/sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

var summaryRE = regexp.MustCompile(`(?:imported|would import) (\d+), existing (\d+), invalid (\d+); (\d+) rows in (\S+) \((\d+) rows/s\)`)

var progressLineRE = regexp.MustCompile(`(?m)^import: \d+ rows \(\d+% of the file\), \d+ imported, .* rows/s, ETA \S+$`)

// importResult is the command's summary line.
type importResult struct {
	imported, existing, invalid, rows int
	elapsed                           string
	rate                              int
}

// importSummary reads the command's summary line.
func importSummary(t *testing.T, out string) importResult {
	t.Helper()
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	n := func(s string) int {
		v, _ := strconv.Atoi(s)
		return v
	}
	return importResult{imported: n(m[1]), existing: n(m[2]), invalid: n(m[3]), rows: n(m[4]), elapsed: m[5], rate: n(m[6])}
}

// TestUserImport imports a JSON lines and a CSV file with some bad rows, twice, then signs
// the imported users in with their old passwords — a bcrypt one and an Argon2i one — and
// sees their hashes upgraded to Argon2id.
func TestUserImport(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := importEnv(t, dialect)
			const bcPW, a2PW, csvPW = "Old-Portal-Pw1!", "Steppe-Wind-22?", "Csv-User-Pw3#"
			bc, a2, bcCSV := bcryptHash(t, bcPW), argon2iHash(a2PW), bcryptHash(t, csvPW)
			jsonl := writeFile(t, "users.jsonl", strings.Join([]string{
				`{"email":"Aigerim@Mail.KZ","email_verified":true,"password_hash":"` + bc + `","created_at":"2024-01-02T03:04:05Z"}`,
				`{"phone":"8 701 123 45 67","phone_verified":true,"password_hash":"` + a2 + `"}`,
				`{"email":"not-an-address","password_hash":"` + bc + `"}`,
				`{"email":"salt@mail.kz","password_hash":"` + bc + `","salt":"xyz"}`,
				`{"email":"md5@mail.kz","password_hash":"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}`,
				``,
				`{"email":"aigerim@mail.kz","password_hash":"` + bc + `"}`,
				`{"email":"bolat@mail.kz","phone":"+77017654321","password_hash":"` + bc + `"}`,
			}, "\n")+"\n")
			csv := writeFile(t, "users.csv", "password_hash,email,email_verified\n"+
				bcCSV+",csv@mail.kz,yes\n"+
				bcCSV+",csv2@mail.kz,perhaps\n"+
				bcCSV+",bolat@mail.kz,no\n")
			wantReport := []string{
				"line 3, email: not a valid e-mail address (invalid_email)",
				`line 4: unknown field "salt"`,
				"line 5, password_hash: unknown algorithm",
				"line 7, email: the same e-mail as line 1 (import_duplicate_identifier)",
			}

			for run := 1; run <= 2; run++ {
				out, errOut, code := runKilt(t, env, "", "user", "import", jsonl)
				got := importSummary(t, out)
				want := importResult{imported: 3, existing: 0, invalid: 4, rows: 7}
				if run == 2 {
					want.imported, want.existing = 0, 3
				}
				if code != 1 || got.imported != want.imported || got.existing != want.existing || got.invalid != want.invalid || got.rows != want.rows {
					t.Errorf("run %d: exit %d, %q; want 1, imported %d, existing %d, invalid 4 of 7 rows",
						run, code, out, want.imported, want.existing)
				}
				for _, want := range wantReport {
					if !strings.Contains(errOut, want) {
						t.Errorf("run %d: the report lacks %q:\n%s", run, want, errOut)
					}
				}
				if strings.Contains(errOut, bc) || strings.Contains(errOut, "qjXMvbEw8oaL") || strings.Contains(errOut, "not-an-address") {
					t.Errorf("run %d: the report shows a hash or a value:\n%s", run, errOut)
				}
			}

			out, errOut, code := runKilt(t, env, "", "user", "import", "--dry-run", csv)
			if got := importSummary(t, out); code != 1 || !strings.Contains(out, "dry run") ||
				got.imported != 1 || got.existing != 1 || got.invalid != 1 || !strings.Contains(errOut, "line 3, email_verified") {
				t.Errorf("dry run: exit %d, %q %q; want 1 would be imported, 1 existing, line 3 invalid", code, out, errOut)
			}
			out, _, code = runKilt(t, env, "", "user", "import", "--batch", "1", csv)
			if got := importSummary(t, out); code != 1 || got.imported != 1 || got.existing != 1 || got.invalid != 1 {
				t.Errorf("CSV: exit %d, %q; want 1 imported, 1 existing, 1 invalid", code, out)
			}
			out, _, code = runKilt(t, env, "", "user", "import", "--format", "csv", csv)
			if got := importSummary(t, out); code != 1 || got.imported != 0 || got.existing != 2 {
				t.Errorf("CSV again: exit %d, %q; want nothing imported", code, out)
			}

			out, _, _ = runKilt(t, env, "", "user", "show", "aigerim@mail.kz")
			for _, want := range []string{"Aigerim@mail.kz (verified: yes)", "created:             2024-01-02T03:04:05Z", "bcrypt cost 10"} {
				if !strings.Contains(out, want) {
					t.Errorf("user show before sign-in lacks %q:\n%s", want, out)
				}
			}

			base, stop := startServe(t, t.TempDir(), env)
			defer stop()
			if got := signIn(t, base, "aigerim@mail.kz", "Wrong-Password-1!"); got != 401 {
				t.Errorf("wrong password: got %d, want 401", got)
			}
			for _, u := range []struct{ id, pw, before string }{
				{"aigerim@mail.kz", bcPW, "bcrypt cost 10"},
				{"+7 701 123 45 67", a2PW, "argon2i m=8192,t=5,p=1"},
				{"csv@mail.kz", csvPW, "bcrypt cost 10"},
			} {
				if out, _, _ := runKilt(t, env, "", "user", "show", u.id); !strings.Contains(out, "password hash:       "+u.before) {
					t.Errorf("%s before sign-in: want %q:\n%s", u.id, u.before, out)
				}
				if got := signIn(t, base, u.id, u.pw); got != 201 {
					t.Errorf("%s signs in with the old password: got %d, want 201", u.id, got)
				}
				if out, _, _ := runKilt(t, env, "", "user", "show", u.id); !strings.Contains(out, "password hash:       argon2id m=19456,t=2,p=1") {
					t.Errorf("%s after sign-in: want the hash upgraded to argon2id:\n%s", u.id, out)
				}
				if got := signIn(t, base, u.id, u.pw); got != 201 {
					t.Errorf("%s signs in again with the upgraded hash: got %d, want 201", u.id, got)
				}
			}
		})
	}
}

func TestUserImportUsage(t *testing.T) {
	dir := t.TempDir()
	env := []string{quickExit, "KILT_DATABASE_URL=sqlite:" + filepath.Join(dir, "k.db")}
	csvNoHash := writeFile(t, "nohash.csv", "email,phone\na@mail.kz,\n")
	array := writeFile(t, "array.json", `[{"email":"a@mail.kz"}]`)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", []string{"user", "import"}, 2, "want one file"},
		{"unknown extension", []string{"user", "import", "users.txt"}, 2, "--format"},
		{"unknown format", []string{"user", "import", "--format", "xml", "users.txt"}, 2, `unknown import format "xml"`},
		{"bad batch", []string{"user", "import", "--batch", "0", "users.jsonl"}, 2, "--batch"},
		{"missing file", []string{"user", "import", filepath.Join(dir, "none.jsonl")}, 1, "no such file"},
		{"CSV without a hash column", []string{"user", "import", csvNoHash}, 1, "no password_hash column"},
		{"JSON array", []string{"user", "import", array}, 1, "JSON array"},
		{"help", []string{"user", "import", "-h"}, 0, "password_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runKilt(t, env, "", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d; stderr %q, want it to contain %q", code, tt.code, errOut, tt.want)
			}
		})
	}
}

func TestUserImportFromStdin(t *testing.T) {
	env := []string{quickExit, "KILT_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "k.db")}
	in := `{"email":"a@mail.kz","password_hash":"` + bcryptHash(t, "x") + `"}` + "\n"
	out, errOut, code := runKilt(t, env, in, "user", "import", "--format", "jsonl", "-")
	if got := importSummary(t, out); code != 0 || got.imported != 1 {
		t.Errorf("exit %d, %q %q; want 1 imported", code, out, errOut)
	}
}

// TestUserImport100k imports 100,000 users with bcrypt hashes through the command, on
// SQLite and on PostgreSQL, checks what the database holds, and signs a sample of them in
// with their old passwords through a `kilt serve` on the same database.
func TestUserImport100k(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 100,000-user import is skipped")
	}
	const users, distinct = 100000, 20
	// Hashing 100,000 bcrypt passwords would take minutes and prove nothing more: 20
	// passwords are hashed at the lowest cost and assigned round-robin.
	passwords := make([]string, distinct)
	hashes := make([]string, distinct)
	for i := range distinct {
		passwords[i] = fmt.Sprintf("Old-Portal-%02d!", i)
		hashes[i] = bcryptHash(t, passwords[i])
	}
	path := filepath.Join(t.TempDir(), "users.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range users {
		phone := ""
		if i%2 == 0 {
			phone = fmt.Sprintf(`,"phone":"+7701%07d","phone_verified":true`, i)
		}
		fmt.Fprintf(w, `{"email":"user%06d@example.kz","email_verified":%t%s,"password_hash":"%s","created_at":"%s"}`+"\n",
			i, i%3 != 0, phone, hashes[i%distinct], created.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(path)

	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := importEnv(t, dialect)
			start := time.Now()
			out, errOut, code := runKilt(t, env, "", "user", "import", path)
			elapsed := time.Since(start)
			got := importSummary(t, out)
			if code != 0 || got.imported != users || got.existing != 0 || got.invalid != 0 || got.rows != users {
				t.Fatalf("import: exit %d, %q\n%s", code, out, lastLines(errOut, 10))
			}
			t.Logf("%s: imported %d users (%.1f MB of JSON lines) in %s: %d rows/s (%v with process start and migrations)",
				dialect, got.imported, float64(fi.Size())/1e6, got.elapsed, got.rate, elapsed.Round(time.Millisecond))
			if !progressLineRE.MatchString(errOut) {
				t.Errorf("no plain progress line on a pipe:\n%s", lastLines(errOut, 5))
			}

			ctx := context.Background()
			db, err := sqlstore.Open(ctx, envValue(env, "KILT_DATABASE_URL"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for query, want := range map[string]int{
				`SELECT COUNT(*) FROM accounts`:                                        users,
				`SELECT COUNT(*) FROM accounts WHERE phone IS NOT NULL`:                users / 2,
				`SELECT COUNT(*) FROM accounts WHERE email_verified`:                   users - (users+2)/3,
				`SELECT COUNT(*) FROM password_history WHERE skeleton_hash = ''`:       users,
				`SELECT COUNT(DISTINCT password_hash) FROM accounts`:                   distinct,
				`SELECT COUNT(*) FROM accounts WHERE password_changed_at = created_at`: users,
			} {
				var got int
				if err := db.QueryRow(ctx, query).Scan(&got); err != nil || got != want {
					t.Errorf("%s: got %d (%v), want %d", query, got, err, want)
				}
			}

			base, stop := startServe(t, t.TempDir(), env)
			defer stop()
			accounts := sqlstore.NewAccounts(db)
			for _, i := range []int{0, 1, 7, 12345, 33333, 50000, 64206, 77777, 99998, 99999} {
				id := fmt.Sprintf("user%06d@example.kz", i)
				if i%4 == 0 {
					id = fmt.Sprintf("8701%07d", i) // by phone, the way people type it
				}
				if got := signIn(t, base, id, passwords[i%distinct]); got != 201 {
					t.Errorf("user %d (%s) signs in with the old password: got %d, want 201", i, id, got)
					continue
				}
				a, err := accounts.AccountByEmail(ctx, fmt.Sprintf("user%06d@example.kz", i))
				if err != nil || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
					t.Errorf("user %d after sign-in: hash %.10s…, %v; want it upgraded to argon2id", i, hashOf(a), err)
				}
			}
			if got := signIn(t, base, "user000002@example.kz", passwords[3]); got != 401 {
				t.Errorf("another user's password: got %d, want 401", got)
			}
		})
	}
}

func hashOf(a *account.Account) string {
	if a == nil {
		return ""
	}
	return a.PasswordHash
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// fakeClock is a clock the progress tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressPlain(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	p := newProgress(&buf, false, clock.now, 1000000)
	for rows := 1000; rows <= 25000; rows += 1000 {
		clock.t = clock.t.Add(100 * time.Millisecond)
		p.update(userimport.Stats{Rows: rows, Imported: rows - 1, Invalid: 1, Bytes: int64(rows) * 20})
	}
	clock.t = clock.t.Add(6 * time.Second) // slow now: a line after 5 s even without 10,000 rows
	p.update(userimport.Stats{Rows: 26000, Imported: 25999, Invalid: 1, Bytes: 520000})
	want := "import: 10000 rows (20% of the file), 9999 imported, 0 existing, 1 invalid, 10000 rows/s, ETA 4s\n" +
		"import: 20000 rows (40% of the file), 19999 imported, 0 existing, 1 invalid, 10000 rows/s, ETA 3s\n" +
		"import: 26000 rows (52% of the file), 25999 imported, 0 existing, 1 invalid, 3059 rows/s, ETA 8s\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestProgressTerminal(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	p := newProgress(&buf, true, clock.now, 100000)
	clock.t = clock.t.Add(time.Second)
	p.update(userimport.Stats{Rows: 1000, Imported: 1000, Bytes: 25000})
	clock.t = clock.t.Add(50 * time.Millisecond) // too soon to redraw
	p.update(userimport.Stats{Rows: 2000, Imported: 2000, Bytes: 50000})
	p.problem(kilt.Errorf(kilt.KindInvalid, account.CodeInvalidEmail, "not a valid e-mail address").
		WithDetails("line", 2001).WithDetails("field", "email"))
	clock.t = clock.t.Add(time.Second)
	p.update(userimport.Stats{Rows: 3000, Imported: 2999, Invalid: 1, Bytes: 75000})
	p.clear()
	want := "\r[######..................]  25%  1000/~4000 rows  1000 rows/s  ETA 3s\x1b[K" +
		"\r\x1b[K" + "line 2001, email: not a valid e-mail address (invalid_email)\n" +
		"\r[##################......]  75%  3000/~4000 rows  1463 rows/s  ETA 1s\x1b[K" +
		"\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestSummary(t *testing.T) {
	st := userimport.Stats{Rows: 100000, Imported: 99990, Existing: 5, Invalid: 5}
	got := summary(st, 4*time.Second, false)
	if want := "imported 99990, existing 5, invalid 5; 100000 rows in 4s (25000 rows/s)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := summary(st, 0, true); !strings.HasPrefix(got, "dry run, nothing written: would import 99990") {
		t.Errorf("dry run: got %q", got)
	}
}
