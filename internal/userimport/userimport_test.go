package userimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/password"
)

var importNow = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// testArgon2 is a well-formed Argon2id PHC string (of no known password).
const testArgon2 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s"

func testBcrypt(t *testing.T) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("Old-Portal-Pw1"), password.MinImportBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// readAll reads every row of the file, returning the valid rows and the problems.
func readAll(t *testing.T, f Format, file string) ([]Row, []error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(file), f, "KZ", importNow)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var rows []Row
	var problems []error
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, problems
		}
		if err != nil {
			if kilt.ErrorKind(err) != kilt.KindInvalid {
				t.Fatalf("Next: %v, want a row problem", err)
			}
			problems = append(problems, err)
			continue
		}
		rows = append(rows, row)
	}
}

// problem is a row problem as a test compares it.
type problem struct {
	Line  int
	Field string
	Code  string
}

func problemOf(err error) problem {
	e, _ := kilt.AsError(err)
	line, _ := e.Details["line"].(int)
	field, _ := e.Details["field"].(string)
	return problem{line, field, e.Code}
}

func TestImportRowValidation(t *testing.T) {
	bc := testBcrypt(t)
	tests := []struct {
		name  string
		json  string // a JSON lines row
		csv   string // the same as a CSV row under csvHeader ("" if it cannot be written so)
		want  problem
		field string
	}{
		{name: "bad e-mail", json: `{"email":"not-an-address","password_hash":"BC"}`, csv: `not-an-address,,,,BC,`,
			want: problem{1, "email", account.CodeInvalidEmail}},
		{name: "bad phone", json: `{"phone":"12345","password_hash":"BC"}`, csv: `,12345,,,BC,`,
			want: problem{1, "phone", account.CodeInvalidPhone}},
		{name: "no identifier", json: `{"password_hash":"BC"}`, csv: `,,,,BC,`,
			want: problem{1, "", CodeIdentifierRequired}},
		{name: "blank identifiers", json: `{"email":"  ","phone":"","password_hash":"BC"}`, csv: ` , ,,,BC,`,
			want: problem{1, "", CodeIdentifierRequired}},
		{name: "no hash", json: `{"email":"a@mail.kz"}`, csv: `a@mail.kz,,,,,`,
			want: problem{1, "password_hash", CodeInvalidHash}},
		{name: "not a hash", json: `{"email":"a@mail.kz","password_hash":"secret123"}`, csv: `a@mail.kz,,,,secret123,`,
			want: problem{1, "password_hash", CodeInvalidHash}},
		{name: "truncated bcrypt", json: `{"email":"a@mail.kz","password_hash":"$2b$04$abc"}`, csv: `a@mail.kz,,,,$2b$04$abc,`,
			want: problem{1, "password_hash", CodeInvalidHash}},
		{name: "unsupported scheme argon2d", json: `{"email":"a@mail.kz","password_hash":"$argon2d$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5"}`,
			csv: `a@mail.kz,,,,"$argon2d$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5",`, want: problem{1, "password_hash", CodeInvalidHash}},
		{name: "unsupported scheme md5-crypt", json: `{"email":"a@mail.kz","password_hash":"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}`,
			csv: `a@mail.kz,,,,$1$saltsalt$qjXMvbEw8oaL.CzflDugX/,`, want: problem{1, "password_hash", CodeInvalidHash}},
		{name: "bcrypt below the minimum import cost", json: `{"email":"a@mail.kz","password_hash":"$2a$04$BJIInFontQWemWUL//vWRelHvTTysMMVt9KPf/LHX3iGSkPokQjK2"}`,
			csv: `a@mail.kz,,,,$2a$04$BJIInFontQWemWUL//vWRelHvTTysMMVt9KPf/LHX3iGSkPokQjK2,`, want: problem{1, "password_hash", CodeInvalidHash}},
		{name: "argon2 below the minimum import cost", json: `{"email":"a@mail.kz","password_hash":"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s"}`,
			csv: `a@mail.kz,,,,"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s",`, want: problem{1, "password_hash", CodeInvalidHash}},
		{name: "bad time", json: `{"email":"a@mail.kz","password_hash":"BC","created_at":"02.01.2024"}`, csv: `a@mail.kz,,,,BC,02.01.2024`,
			want: problem{1, "created_at", CodeInvalidCreatedAt}},
		{name: "time in the future", json: `{"email":"a@mail.kz","password_hash":"BC","created_at":"2030-01-01T00:00:00Z"}`,
			csv: `a@mail.kz,,,,BC,2030-01-01T00:00:00Z`, want: problem{1, "created_at", CodeInvalidCreatedAt}},
		{name: "verified without e-mail", json: `{"phone":"87011234567","email_verified":true,"password_hash":"BC"}`,
			csv: `,87011234567,true,,BC,`, want: problem{1, "email_verified", CodeInvalidFlag}},
		{name: "bad flag", json: `{"email":"a@mail.kz","email_verified":"yes","password_hash":"BC"}`, csv: `a@mail.kz,,maybe,,BC,`,
			want: problem{1, "email_verified", CodeInvalidFlag}},
		{name: "unknown field", json: `{"email":"a@mail.kz","password_hash":"BC","salt":"x"}`,
			want: problem{1, "", CodeUnknownField}},
		{name: "phone as a number", json: `{"phone":77011234567,"password_hash":"BC"}`,
			want: problem{1, "phone", CodeMalformedRow}},
		{name: "not JSON", json: `{"email":"a@mail.kz",`, want: problem{1, "", CodeMalformedRow}},
		{name: "not an object", json: `"a@mail.kz BC"`, want: problem{1, "", CodeMalformedRow}},
		{name: "two objects on a line", json: `{"email":"a@mail.kz","password_hash":"BC"} {}`, want: problem{1, "", CodeMalformedRow}},
		// encoding/json kept the last of two keys and folded case: a row meant two things.
		{name: "a field twice", json: `{"email":"a@mail.kz","email":"b@mail.kz","password_hash":"BC"}`, want: problem{1, "", CodeMalformedRow}},
		{name: "a field in other case", json: `{"EMAIL":"a@mail.kz","password_hash":"BC"}`, want: problem{1, "", CodeUnknownField}},
		{name: "too few columns", csv: `a@mail.kz,BC`, want: problem{1, "", CodeMalformedRow}},
		{name: "bare quote", csv: `a"b@mail.kz,,,,BC,`, want: problem{1, "", CodeMalformedRow}},
	}
	const csvHeader = "email,phone,email_verified,phone_verified,password_hash,created_at\n"
	for _, tt := range tests {
		for _, f := range []Format{JSONLines, CSV} {
			in, header := tt.json, ""
			if f == CSV {
				in, header = tt.csv, csvHeader
			}
			if in == "" {
				continue
			}
			t.Run(tt.name+"/"+f.String(), func(t *testing.T) {
				file := header + strings.ReplaceAll(in, "BC", bc) + "\n"
				rows, problems := readAll(t, f, file)
				if len(rows) != 0 || len(problems) != 1 {
					t.Fatalf("got %d rows and problems %v, want one problem", len(rows), problems)
				}
				want := tt.want
				if f == CSV {
					want.Line++ // the header is line 1
				}
				if got := problemOf(problems[0]); got != want {
					t.Errorf("got %+v (%v), want %+v", got, problems[0], want)
				}
				if msg := DescribeProblem(problems[0]); strings.Contains(msg, bc) || strings.Contains(msg, "secret123") {
					t.Errorf("the report shows the hash: %q", msg)
				}
			})
		}
	}
}

func TestImportValidRows(t *testing.T) {
	bc := testBcrypt(t)
	created := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("+05", 5*3600))
	want := []Row{
		{Line: 1, Account: account.Account{Email: "Aigerim@mail.kz", EmailVerified: true, PasswordHash: bc,
			CreatedAt: created.UTC().Truncate(time.Microsecond), UpdatedAt: importNow, PasswordChangedAt: created.UTC().Truncate(time.Microsecond)}},
		{Line: 3, Account: account.Account{Phone: "+77011234567", PhoneVerified: true, PasswordHash: testArgon2,
			CreatedAt: importNow, UpdatedAt: importNow, PasswordChangedAt: importNow}},
		{Line: 4, Account: account.Account{Email: "b@mail.kz", Phone: "+77017654321", PasswordHash: bc,
			CreatedAt: importNow, UpdatedAt: importNow, PasswordChangedAt: importNow}},
	}
	jsonl := "\ufeff" + `{"email":" Aigerim@MAIL.KZ ","email_verified":true,"password_hash":"` + bc + `","created_at":"2024-01-02T03:04:05.123456789+05:00"}` + "\n" +
		"\n" +
		`{"phone":"8 701 123 45 67","phone_verified":true,"email":null,"password_hash":"` + testArgon2 + `"}` + "\r\n" +
		`{"email":"b@mail.kz","phone":"+7 (701) 765-43-21","email_verified":false,"password_hash":"` + bc + `"}` // no final newline
	csv := "\ufeffPassword_Hash , EMAIL,phone_verified,phone,created_at,email_verified\n" +
		bc + `, Aigerim@MAIL.KZ ,,,2024-01-02T03:04:05.123456789+05:00,yes` + "\n" +
		`"` + testArgon2 + `",,1,"8 701 123 45 67",,` + "\r\n" +
		bc + `,b@mail.kz,false,"+7 (701) 765-43-21",,0`
	for name, in := range map[string]struct {
		f    Format
		file string
	}{"jsonl": {JSONLines, jsonl}, "csv": {CSV, csv}} {
		t.Run(name, func(t *testing.T) {
			rows, problems := readAll(t, in.f, in.file)
			if len(problems) > 0 {
				t.Fatalf("problems: %v", problems)
			}
			w := want
			if in.f == CSV {
				w = append([]Row(nil), want...)
				for i := range w {
					w[i].Line = i + 2 // the header, and no blank line
				}
			}
			if diff := cmp.Diff(w, rows); diff != "" {
				t.Errorf("rows differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImportDuplicatesInFile(t *testing.T) {
	bc := testBcrypt(t)
	file := strings.Join([]string{
		`{"email":"a@mail.kz","phone":"+77011234567","password_hash":"` + bc + `"}`,
		`{"email":"A@Mail.kz","password_hash":"` + bc + `"}`,                       // same e-mail, other case
		`{"email":"c@mail.kz","phone":"87011234567","password_hash":"` + bc + `"}`, // same phone, other spelling
		`{"email":"bad","phone":"87019999999","password_hash":"` + bc + `"}`,       // invalid: does not claim its phone
		`{"phone":"87019999999","password_hash":"` + bc + `"}`,
	}, "\n")
	rows, problems := readAll(t, JSONLines, file)
	var got []problem
	for _, p := range problems {
		got = append(got, problemOf(p))
	}
	want := []problem{{2, "email", CodeDuplicateRow}, {3, "phone", CodeDuplicateRow}, {4, "email", account.CodeInvalidEmail}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems differ (-want +got):\n%s", diff)
	}
	if len(rows) != 2 || rows[0].Line != 1 || rows[1].Line != 5 {
		t.Errorf("got rows %+v, want lines 1 and 5", rows)
	}
	if msg := DescribeProblem(problems[0]); !strings.Contains(msg, "line 2, email: the same e-mail as line 1") {
		t.Errorf("got %q, want it to name the earlier line", msg)
	}
}

func TestImportFileErrors(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		file string
		want string
	}{
		{"empty CSV", CSV, "", "header row"},
		{"unknown column", CSV, "email,password_hash,salt\n", `column 3 is "salt"`},
		{"repeated column", CSV, "email,Email,password_hash\n", "appears twice"},
		{"no identifier column", CSV, "password_hash,created_at\n", "neither an email nor a phone"},
		{"no hash column", CSV, "email,phone\n", "no password_hash"},
		{"JSON array", JSONLines, "  \n[{\"email\":\"a@mail.kz\"}]", "JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tt.file), tt.f, "KZ", importNow)
			if kilt.ErrorCode(err) != CodeImportFile || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %s mentioning %q", err, CodeImportFile, tt.want)
			}
		})
	}
}

func TestImportLongLine(t *testing.T) {
	bc := testBcrypt(t)
	file := `{"email":"` + strings.Repeat("a", 2*maxImportLine) + `@mail.kz"}` + "\n" +
		`{"email":"b@mail.kz","password_hash":"` + bc + `"}` + "\n"
	rows, problems := readAll(t, JSONLines, file)
	if len(problems) != 1 || problemOf(problems[0]) != (problem{1, "", CodeMalformedRow}) {
		t.Errorf("got problems %v, want line 1 malformed", problems)
	}
	if len(rows) != 1 || rows[0].Line != 2 {
		t.Errorf("got rows %+v, want line 2", rows)
	}
}

func TestImportFormatNames(t *testing.T) {
	for name, want := range map[string]Format{"users.jsonl": JSONLines, "U.NDJSON": JSONLines, "x.json": JSONLines, "dump.csv": CSV} {
		if got, ok := FormatOf(name); !ok || got != want {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	if _, ok := FormatOf("users.txt"); ok {
		t.Error("FormatOf(users.txt) is ok, want not")
	}
	for name, want := range map[string]Format{"jsonl": JSONLines, "CSV": CSV} {
		if got, err := ParseFormat(name); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) succeeded")
	}
}

// fakeImportStore keeps identifiers in memory the way the real store does.
type fakeImportStore struct {
	owners  map[string]int64
	nextID  int64
	batches []int
	dryRuns int
	fail    error
}

func (s *fakeImportStore) ImportAccounts(_ context.Context, rows []Row, dryRun bool) ([]Outcome, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	s.batches = append(s.batches, len(rows))
	if dryRun {
		s.dryRuns++
	}
	out := make([]Outcome, len(rows))
	for i, r := range rows {
		e, p := s.owners["e"+account.EmailKey(r.Account.Email)], s.owners["p"+r.Account.Phone]
		switch {
		case e != 0 && p != 0 && e != p:
			out[i] = Conflict
		case e != 0 || p != 0:
			out[i] = Existing
		default:
			out[i] = Created
			if !dryRun {
				s.nextID++
				if r.Account.Email != "" {
					s.owners["e"+account.EmailKey(r.Account.Email)] = s.nextID
				}
				if r.Account.Phone != "" {
					s.owners["p"+r.Account.Phone] = s.nextID
				}
			}
		}
	}
	return out, nil
}

func TestImport(t *testing.T) {
	bc := testBcrypt(t)
	var lines []string
	for i := range 25 {
		lines = append(lines, fmt.Sprintf(`{"email":"user%d@mail.kz","password_hash":"%s"}`, i, bc))
	}
	lines[7] = `{"email":"broken","password_hash":"` + bc + `"}`
	lines[12] = `{"email":"x@mail.kz","phone":"87011111111","password_hash":"` + bc + `"}`
	file := strings.Join(lines, "\n")

	store := &fakeImportStore{nextID: 1000, owners: map[string]int64{
		"euser3@mail.kz": 100, // user3 exists already
		"ex@mail.kz":     101, // x@mail.kz belongs to account 101 …
		"p+77011111111":  102, // … and its phone to account 102: a conflict
	}}

	run := func(dryRun bool) (Stats, []problem, []Stats) {
		t.Helper()
		src, err := NewReader(strings.NewReader(file), JSONLines, "KZ", importNow)
		if err != nil {
			t.Fatal(err)
		}
		var problems []problem
		var progress []Stats
		st, err := Run(context.Background(), src, store, Options{BatchSize: 10, DryRun: dryRun,
			Problem:  func(err error) { problems = append(problems, problemOf(err)) },
			Progress: func(s Stats) { progress = append(progress, s) }})
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		return st, problems, progress
	}

	st, problems, progress := run(true)
	wantProblems := []problem{{8, "email", account.CodeInvalidEmail}, {13, "", CodeIdentifierConflict}}
	if want := (Stats{Rows: 25, Imported: 22, Existing: 1, Invalid: 2, Bytes: int64(len(file))}); st != want {
		t.Errorf("dry run: got %+v, want %+v", st, want)
	}
	if store.dryRuns != len(store.batches) || store.nextID != 1000 {
		t.Errorf("dry run: %d of %d batches were dry, next ID %d", store.dryRuns, len(store.batches), store.nextID)
	}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("dry run problems differ (-want +got):\n%s", diff)
	}

	store.batches = nil
	st, problems, progress = run(false)
	if want := (Stats{Rows: 25, Imported: 22, Existing: 1, Invalid: 2, Bytes: int64(len(file))}); st != want {
		t.Errorf("first run: got %+v, want %+v", st, want)
	}
	if diff := cmp.Diff([]int{10, 10, 4}, store.batches); diff != "" {
		t.Errorf("batch sizes differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("first run problems differ (-want +got):\n%s", diff)
	}
	if len(progress) < 3 || progress[len(progress)-1].Imported != 22 {
		t.Errorf("progress reports %+v, want one per batch ending at 22 imported", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Rows < progress[i-1].Rows {
			t.Errorf("progress goes back: %+v", progress)
		}
	}

	st, problems, _ = run(false)
	if want := (Stats{Rows: 25, Imported: 0, Existing: 23, Invalid: 2, Bytes: int64(len(file))}); st != want {
		t.Errorf("second run: got %+v, want %+v", st, want)
	}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("second run problems differ (-want +got):\n%s", diff)
	}
}

func TestImportStopsOnStoreError(t *testing.T) {
	bc := testBcrypt(t)
	file := `{"email":"a@mail.kz","password_hash":"` + bc + `"}`
	src, err := NewReader(strings.NewReader(file), JSONLines, "KZ", importNow)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("database gone")
	if _, err := Run(context.Background(), src, &fakeImportStore{fail: boom}, Options{}); !errors.Is(err, boom) {
		t.Errorf("got %v, want the store's error", err)
	}
}

func TestImportStopsWhenCancelled(t *testing.T) {
	bc := testBcrypt(t)
	file := `{"email":"a@mail.kz","password_hash":"` + bc + `"}`
	src, err := NewReader(strings.NewReader(file), JSONLines, "KZ", importNow)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	store := &fakeImportStore{owners: map[string]int64{}}
	if _, err := Run(ctx, src, store, Options{}); !errors.Is(err, context.Canceled) || len(store.batches) != 0 {
		t.Errorf("got %v after %d batches, want context.Canceled before any", err, len(store.batches))
	}
}

// BenchmarkImportReader reads and checks rows like those of a real export: every row an
// e-mail, every other one a phone too (phone parsing is most of the cost).
func BenchmarkImportReader(b *testing.B) {
	h, err := bcrypt.GenerateFromPassword([]byte("Old-Portal-Pw1"), password.MinImportBcryptCost)
	if err != nil {
		b.Fatal(err)
	}
	var file strings.Builder
	const rows = 10000
	for i := range rows {
		phone := ""
		if i%2 == 0 {
			phone = fmt.Sprintf(`,"phone":"+7701%07d","phone_verified":true`, i)
		}
		fmt.Fprintf(&file, `{"email":"user%06d@example.kz","email_verified":true%s,"password_hash":"%s","created_at":"2024-01-02T03:04:05Z"}`+"\n",
			i, phone, h)
	}
	data := file.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewReader(strings.NewReader(data), JSONLines, "KZ", importNow)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != rows {
			b.Fatalf("read %d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
