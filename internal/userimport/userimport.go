// Package userimport reads an existing user base from a file and stores it through its Store
// port (`kilt user import FILE`): a file format, not a domain rule, so it lives beside
// account rather than in it.
//
// A file is JSON lines (one object per line; blank lines are skipped) or CSV (a header row
// naming the columns, in any order, then one account per row). The fields, or columns, are:
//
//	email           the e-mail address                       email and/or phone required
//	phone           the phone number, any common spelling,   (the configured region is the
//	                 normalised to E.164                      default country)
//	email_verified  true/false (CSV also 1/0, yes/no)        default false
//	phone_verified  true/false (CSV also 1/0, yes/no)        default false
//	password_hash   bcrypt ($2a$, $2b$, $2y$) or Argon2      required
//	                 ($argon2id$, $argon2i$, PHC, v=19)
//	created_at      RFC 3339, not in the future              default: the time of the import
//
// For example:
//
//	{"email":"aigerim@mail.kz","email_verified":true,"password_hash":"$2b$12$…","created_at":"2024-01-02T03:04:05Z"}
//
//	email,phone,email_verified,phone_verified,password_hash,created_at
//	aigerim@mail.kz,+77011234567,true,false,$2b$12$…,2024-01-02T03:04:05Z
//	,87017654321,,yes,"$argon2id$v=19$m=65536,t=3,p=4$…$…",
//
// An Argon2 hash holds commas, so in CSV it is quoted, as every CSV writer does. An empty
// cell, an empty string and null are the same as a missing field.
//
// Any other field or column is refused: a misspelt "emial_verified" must not silently
// import everyone as unverified. Identifiers are parsed and normalised as everywhere else
// (account.ParseEmail, account.ParsePhone), so an imported user signs in however they type
// them. A hash must be one Verify can check within its limits, and of at least the minimum
// import cost (password.CheckImport); the account's first sign-in verifies the password
// against it and replaces it, and its history entry, by an Argon2id hash at the configured
// cost (session.Service.SignIn), so an imported hash lives only until then. The hash also
// becomes the account's first history entry, without a skeleton hash (the password was
// never seen in clear), so the history rule compares with it by the password hash alone.
// The password's last change is unknown and taken to be created_at.
//
// Rows are checked one by one, and a bad row is reported (line, field, reason — never the
// hash, nor the identifier's value) and skipped; the rest are imported. A row whose e-mail or
// phone appears on an earlier row of the same file is reported too, whichever run it is:
// the earlier row wins. To tell that, the import keeps a 16-byte digest of every identifier
// it accepted (memory grows by roughly 50 bytes per identifier: some 100 MB for a million
// rows with both), never the file itself, which is read as a stream.
//
// The import is idempotent. A row whose e-mail or phone already has an account is counted
// as existing and changes nothing — the account is not merged with the row, nor its hash
// replaced — so a second run of the same file imports nothing and reports the same problems.
// A row whose e-mail and phone belong to two different accounts is reported. Rows are
// written in batches, one transaction per batch: an interrupted import keeps the batches it
// committed, and running it again completes it.
package userimport

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/password"
)

// Error codes of import problems. Identifiers that do not parse have the codes of
// account.ParseEmail and account.ParsePhone (invalid_email, invalid_phone).
const (
	CodeImportFile         = "import_file"                  // the file as a whole cannot be read
	CodeMalformedRow       = "import_malformed_row"         // not JSON, not an object, bad CSV quoting, wrong number of columns
	CodeUnknownField       = "import_unknown_field"         // a field or column that is not one of the list above
	CodeIdentifierRequired = "import_identifier_required"   // neither e-mail nor phone
	CodeInvalidFlag        = "import_invalid_flag"          // a verified flag that is not a boolean, or without its identifier
	CodeInvalidHash        = "import_invalid_password_hash" // missing, malformed or unsupported hash
	CodeInvalidCreatedAt   = "import_invalid_created_at"    // not RFC 3339, or in the future
	CodeDuplicateRow       = "import_duplicate_identifier"  // an identifier of an earlier row of the file
	CodeIdentifierConflict = "import_identifier_conflict"   // e-mail and phone belong to two different accounts
)

// Field and column names of an import file.
const (
	fieldEmail         = "email"
	fieldPhone         = "phone"
	fieldEmailVerified = "email_verified"
	fieldPhoneVerified = "phone_verified"
	fieldPasswordHash  = "password_hash"
	fieldCreatedAt     = "created_at"
)

var importFields = []string{fieldEmail, fieldPhone, fieldEmailVerified, fieldPhoneVerified, fieldPasswordHash, fieldCreatedAt}

// Format is the format of an import file.
type Format int

// The import formats.
const (
	JSONLines Format = iota + 1
	CSV
)

func (f Format) String() string {
	switch f {
	case JSONLines:
		return "jsonl"
	case CSV:
		return "csv"
	}
	return "unknown"
}

// ParseFormat reads a format name: "jsonl" (also "ndjson", "json") or "csv".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "jsonl", "ndjson", "json":
		return JSONLines, nil
	case "csv":
		return CSV, nil
	}
	return 0, fmt.Errorf("unknown import format %q: want jsonl or csv", s)
}

// FormatOf tells the format of a file by its extension: .jsonl, .ndjson and .json are
// JSON lines, .csv is CSV. ok is false for any other name.
func FormatOf(name string) (f Format, ok bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson", ".json":
		return JSONLines, true
	case ".csv":
		return CSV, true
	}
	return 0, false
}

// DefaultBatch is how many rows an import writes per transaction by default: large
// enough that the per-transaction cost (a commit, an fsync on SQLite) is spread thin, small
// enough that a batch holds SQLite's write lock for milliseconds only, so a running service
// is barely held up.
const DefaultBatch = 1000

// Row is one valid row of an import file.
type Row struct {
	// Line is where the row starts in the file (the first line is 1).
	Line int
	// Account is the account to create: Email, Phone (normalised), their verified flags,
	// PasswordHash, CreatedAt, UpdatedAt (the time of the import) and PasswordChangedAt
	// (= CreatedAt). ID, Locked and Lang are zero.
	Account account.Account
}

// Outcome says what an import did with a valid row.
type Outcome int

// The outcomes of a valid row.
const (
	// Created: the account was created with its first history entry.
	Created Outcome = iota + 1
	// Existing: an identifier of the row already has an account (or one of an earlier
	// row of the same batch); nothing was written.
	Existing
	// Conflict: the row's e-mail and phone belong to two different accounts; nothing
	// was written.
	Conflict
)

// Store is what an import needs from storage.
type Store interface {
	// ImportAccounts creates, in one transaction, the account of every row none of whose
	// identifiers (e-mail by account.EmailKey, phone) has an account yet, each with its first history
	// entry {PasswordHash: the row's hash, SkeletonHash: "", CreatedAt: PasswordChangedAt},
	// and returns the outcome of every row, in order. Rows are taken in order, so of two
	// rows sharing an identifier the first one wins. With dryRun it does the same work and
	// rolls it back. It never fails because an identifier is taken.
	ImportAccounts(ctx context.Context, rows []Row, dryRun bool) ([]Outcome, error)
}

// Stats counts an import's progress.
type Stats struct {
	Rows     int // rows read, valid or not
	Imported int // accounts created (with DryRun: that would have been)
	Existing int // valid rows skipped because an identifier already has an account
	Invalid  int // rows reported: invalid, duplicates within the file, or conflicting
	// Bytes is how much of the file has been read, for estimating the rest.
	Bytes int64
}

// Options tune Import.
type Options struct {
	// BatchSize is the number of valid rows per transaction (DefaultBatch if 0).
	BatchSize int
	// DryRun checks everything, the database included, and writes nothing.
	DryRun bool
	// Problem, if set, is given every reported row: a *kilt.Error whose Details hold "line"
	// (int) and "field" (string, "" for the whole row); DescribeProblem words it.
	Problem func(err error)
	// Progress, if set, is called with the counts so far after every batch: BatchSize valid
	// rows, or fewer when 2×BatchSize rows were read (so that bad rows show progress too).
	Progress func(Stats)
}

// Import reads every row of src and stores the valid ones with store, BatchSize at a time.
// Invalid and conflicting rows are given to opt.Problem, in the order of the file, and
// counted, and the import goes on. It stops at the first error of reading or storage (or
// when ctx ends), returning the counts so far; the batches already written stay written,
// and a new run skips them.
//
// The next batch is read and checked while the current one is stored: parsing phone numbers
// and storing rows each keep a core busy, so the two overlap. opt's functions are called
// from the goroutine that called Import, never concurrently.
func Run(ctx context.Context, src *Reader, store Store, opt Options) (Stats, error) {
	size := opt.BatchSize
	if size <= 0 {
		size = DefaultBatch
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the reader when storing fails
	chunks := make(chan importChunk, 1)
	go readChunks(ctx, src, size, chunks)

	var st Stats
	for c := range chunks {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if c.err != nil {
			return st, c.err
		}
		problems := c.problems
		if len(c.rows) > 0 {
			outcomes, err := store.ImportAccounts(ctx, c.rows, opt.DryRun)
			if err != nil {
				return st, err
			}
			if len(outcomes) != len(c.rows) {
				return st, fmt.Errorf("import: the store returned %d outcomes for %d rows", len(outcomes), len(c.rows))
			}
			for i, o := range outcomes {
				switch o {
				case Created:
					st.Imported++
				case Existing:
					st.Existing++
				case Conflict:
					problems = append(problems, rowError(kilt.KindConflict, CodeIdentifierConflict, c.rows[i].Line, "",
						"the e-mail and the phone belong to two different existing accounts"))
				default:
					return st, fmt.Errorf("import: unknown outcome %d", o)
				}
			}
		}
		st.Rows += len(c.rows) + len(c.problems)
		st.Invalid += len(problems)
		st.Bytes = c.bytes
		if opt.Problem != nil {
			slices.SortStableFunc(problems, func(a, b error) int { return cmp.Compare(problemLine(a), problemLine(b)) })
			for _, p := range problems {
				opt.Problem(p)
			}
		}
		if opt.Progress != nil {
			opt.Progress(st)
		}
	}
	return st, ctx.Err()
}

// importChunk is what the reader hands on: up to a batch of valid rows and the problems of
// the rows read with them, or the error that ended reading.
type importChunk struct {
	rows     []Row
	problems []error
	bytes    int64 // of the file read so far
	err      error
}

// readChunks reads src into chunks of size valid rows (or size rows read, whichever comes
// first, so that a file of bad rows still shows progress) and closes out at the end of the
// file, after an error, or when ctx ends.
func readChunks(ctx context.Context, src *Reader, size int, out chan<- importChunk) {
	defer close(out)
	send := func(c importChunk) bool {
		c.bytes = src.BytesRead()
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var c importChunk
	for {
		row, err := src.Next()
		switch {
		case err == io.EOF:
			if len(c.rows)+len(c.problems) > 0 {
				send(c)
			}
			return
		case err == nil:
			c.rows = append(c.rows, row)
		case kilt.ErrorKind(err) == kilt.KindInvalid:
			c.problems = append(c.problems, err)
		default:
			send(importChunk{err: err})
			return
		}
		if len(c.rows) == size || len(c.rows)+len(c.problems) >= 2*size {
			if !send(c) {
				return
			}
			c = importChunk{rows: make([]Row, 0, size)}
		}
	}
}

// problemLine is the line of a reported row.
func problemLine(err error) int {
	if e, ok := kilt.AsError(err); ok {
		line, _ := e.Details["line"].(int)
		return line
	}
	return 0
}

// DescribeProblem words a problem Import reported for an operator: "line 7, email: not
// a valid e-mail address (invalid_email)". It never contains a field's value.
func DescribeProblem(err error) string {
	e, ok := kilt.AsError(err)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	if line, ok := e.Details["line"].(int); ok {
		fmt.Fprintf(&b, "line %d", line)
	}
	if field, _ := e.Details["field"].(string); field != "" {
		fmt.Fprintf(&b, ", %s", field)
	}
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	fmt.Fprintf(&b, ": %s (%s)", msg, e.Code)
	return b.String()
}

// rowError is the problem of one row: a *kilt.Error with the line and field in its details.
func rowError(kind kilt.Kind, code string, line int, field, format string, args ...any) *kilt.Error {
	return kilt.Errorf(kind, code, format, args...).WithDetails("line", line).WithDetails("field", field)
}

// maxImportLine bounds a line of a JSON lines file. A real row is a few hundred bytes; a
// longer line is reported and skipped without being held in memory.
const maxImportLine = 64 << 10

// Reader reads and checks the rows of an import file, one at a time, never holding
// more of the file than one row and a read buffer.
type Reader struct {
	format Format
	region string
	now    time.Time
	in     *countingReader
	br     *bufio.Reader

	line int // JSON lines: lines read so far

	csv  *csv.Reader
	cols []string // CSV: the field each column holds

	// seen maps the digest of every identifier of an accepted row to that row's line.
	seen  map[digest]int
	seeds [2]maphash.Seed
}

// digest is a 128-bit digest of an identifier: with two independent 64-bit hashes, two
// distinct identifiers of one file collide with a probability far below that of a disk
// error, and keeping 16 bytes instead of the identifier bounds the memory per row.
type digest [2]uint64

// NewReader returns a reader of the rows of r in format f. Phone numbers without a
// country are read in region (ISO 3166 alpha-2, "KZ" if empty); now is the time of the
// import: the default created_at, and the latest allowed. A UTF-8 byte order mark is
// skipped. It fails (code import_file) when the file as a whole is unusable: a CSV header
// that is missing, names an unknown or repeated column, or lacks password_hash or both
// identifiers; a JSON file holding an array rather than JSON lines.
func NewReader(r io.Reader, f Format, region string, now time.Time) (*Reader, error) {
	if region == "" {
		region = "KZ"
	}
	in := &countingReader{r: r}
	ir := &Reader{format: f, region: region, now: now.UTC().Truncate(time.Microsecond), in: in,
		br: bufio.NewReaderSize(in, maxImportLine), seen: make(map[digest]int),
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	if b, err := ir.br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = ir.br.Discard(3)
	}
	switch f {
	case JSONLines:
		if first := firstByte(ir.br); first == '[' {
			return nil, kilt.Errorf(kilt.KindInvalid, CodeImportFile,
				"the file holds a JSON array: write JSON lines instead, one object per line")
		}
	case CSV:
		if err := ir.readHeader(); err != nil {
			return nil, err
		}
	default:
		return nil, kilt.Errorf(kilt.KindInvalid, CodeImportFile, "unknown import format")
	}
	return ir, nil
}

// firstByte returns the first byte of br that is not white space, or 0, without consuming it.
func firstByte(br *bufio.Reader) byte {
	b, _ := br.Peek(512)
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
	}
	return 0
}

func (r *Reader) readHeader() error {
	r.csv = csv.NewReader(r.br)
	r.csv.ReuseRecord = true
	// FieldsPerRecord 0: every row must have as many columns as the header.
	header, err := r.csv.Read()
	if err == io.EOF {
		return kilt.Errorf(kilt.KindInvalid, CodeImportFile, "the file is empty: a CSV import starts with a header row naming its columns (%s)",
			strings.Join(importFields, ", "))
	}
	if err != nil {
		return kilt.Errorf(kilt.KindInvalid, CodeImportFile, "reading the CSV header: %w", err)
	}
	have := map[string]bool{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		known := false
		for _, f := range importFields {
			known = known || f == name
		}
		switch {
		case !known:
			return kilt.Errorf(kilt.KindInvalid, CodeImportFile, "CSV column %d is %s: want one of %s",
				i+1, quoteName(h), strings.Join(importFields, ", "))
		case have[name]:
			return kilt.Errorf(kilt.KindInvalid, CodeImportFile, "CSV column %s appears twice", name)
		}
		have[name] = true
		r.cols = append(r.cols, name)
	}
	if !have[fieldEmail] && !have[fieldPhone] {
		return kilt.Errorf(kilt.KindInvalid, CodeImportFile, "the CSV header has neither an email nor a phone column")
	}
	if !have[fieldPasswordHash] {
		return kilt.Errorf(kilt.KindInvalid, CodeImportFile, "the CSV header has no password_hash column")
	}
	return nil
}

// quoteName quotes a field or column name taken from the file for a message, cut short:
// names are the file's structure, not its data, but a broken file may put anything there.
func quoteName(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.QuoteToGraphic(s)
}

// BytesRead reports how many bytes of the file have been read so far (a little ahead of the
// rows returned, because of buffering).
func (r *Reader) BytesRead() int64 { return r.in.n }

// Next returns the next valid row. At the end of the file it returns io.EOF. A row that is
// not valid gives a *kilt.Error of kind invalid with "line" and "field" in its details (see
// DescribeProblem); reading can go on with the next call. Any other error (reading
// the file failed) ends the import.
func (r *Reader) Next() (Row, error) {
	var (
		raw  rawRow
		line int
		err  error
	)
	if r.format == CSV {
		line, raw, err = r.nextCSV()
	} else {
		line, raw, err = r.nextJSON()
	}
	if err != nil {
		return Row{}, err
	}
	return r.check(line, raw)
}

// rawRow is a row as read, before it is checked.
type rawRow struct {
	email, phone, hash, createdAt string
	emailVerified, phoneVerified  bool
}

// jsonRow is one line of a JSON lines file. Pointers tell a missing field or null (the
// default) from a given one.
type jsonRow struct {
	Email         *string `json:"email"`
	Phone         *string `json:"phone"`
	EmailVerified *bool   `json:"email_verified"`
	PhoneVerified *bool   `json:"phone_verified"`
	PasswordHash  *string `json:"password_hash"`
	CreatedAt     *string `json:"created_at"`
}

func (r *Reader) nextJSON() (int, rawRow, error) {
	for {
		text, tooLong, err := r.readLine()
		if err != nil {
			return 0, rawRow{}, err
		}
		if tooLong {
			return 0, rawRow{}, rowError(kilt.KindInvalid, CodeMalformedRow, r.line, "",
				"the line is longer than %d bytes", maxImportLine)
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		if text[0] != '{' {
			return 0, rawRow{}, rowError(kilt.KindInvalid, CodeMalformedRow, r.line, "", "the line is not a JSON object")
		}
		var j jsonRow
		dec := jsontext.NewDecoder(bytes.NewReader(text))
		if err := json.UnmarshalDecode(dec, &j, json.RejectUnknownMembers(true)); err != nil {
			return 0, rawRow{}, r.jsonError(err)
		}
		if _, err := dec.ReadToken(); err != io.EOF {
			return 0, rawRow{}, rowError(kilt.KindInvalid, CodeMalformedRow, r.line, "",
				"the line holds more than one JSON value")
		}
		raw := rawRow{email: deref(j.Email), phone: deref(j.Phone), hash: deref(j.PasswordHash), createdAt: deref(j.CreatedAt)}
		raw.emailVerified = j.EmailVerified != nil && *j.EmailVerified
		raw.phoneVerified = j.PhoneVerified != nil && *j.PhoneVerified
		return r.line, raw, nil
	}
}

// jsonError turns a decoding error into a row problem, naming at most a field, never a
// value. The decoder refuses unknown and duplicated members and case variants of a name.
func (r *Reader) jsonError(err error) error {
	var sem *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		return rowError(kilt.KindInvalid, CodeUnknownField, r.line, "", "unknown field %s: want %s",
			quoteName(sem.JSONPointer.LastToken()), strings.Join(importFields, ", "))
	case sem != nil && sem.GoType != nil && sem.JSONPointer.Parent() == "" && sem.JSONPointer != "":
		field := sem.JSONPointer.LastToken()
		want, code := "a string", CodeMalformedRow
		if t := sem.GoType; t.Kind() == reflect.Bool || t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool {
			want = "true or false"
		}
		if field == fieldEmailVerified || field == fieldPhoneVerified {
			code = CodeInvalidFlag
		}
		return rowError(kilt.KindInvalid, code, r.line, field, "the value is a JSON %s: want %s", kindName(sem.JSONKind), want)
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return rowError(kilt.KindInvalid, CodeMalformedRow, r.line, "", "a field appears more than once")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return rowError(kilt.KindInvalid, CodeMalformedRow, r.line, "", "not valid JSON: the object is not closed")
	}
	return rowError(kilt.KindInvalid, CodeMalformedRow, r.line, "", "not valid JSON")
}

// kindName names a kind of JSON value for a message.
func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	}
	return k.String()
}

// readLine returns the next line without its end, counting lines. A line longer than the
// buffer is skipped to its end and reported as tooLong. It returns io.EOF after the last line.
func (r *Reader) readLine() (text []byte, tooLong bool, err error) {
	text, err = r.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(text) > 0) {
		r.line++
		return text, false, nil
	}
	if err != bufio.ErrBufferFull {
		return nil, false, err
	}
	r.line++
	for err == bufio.ErrBufferFull {
		_, err = r.br.ReadSlice('\n')
	}
	if err != nil && err != io.EOF {
		return nil, false, err
	}
	return nil, true, nil
}

func (r *Reader) nextCSV() (int, rawRow, error) {
	rec, err := r.csv.Read()
	if err == io.EOF {
		return 0, rawRow{}, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			hint := ""
			if len(rec) > len(r.cols) {
				hint = " (an Argon2 hash holds commas: quote it)"
			}
			return 0, rawRow{}, rowError(kilt.KindInvalid, CodeMalformedRow, pe.StartLine, "",
				"the row has %d columns, the header %d%s", len(rec), len(r.cols), hint)
		}
		return 0, rawRow{}, rowError(kilt.KindInvalid, CodeMalformedRow, pe.StartLine, "", "not valid CSV: %v", pe.Err)
	}
	if err != nil {
		return 0, rawRow{}, err
	}
	line, _ := r.csv.FieldPos(0)
	var raw rawRow
	for i, v := range rec {
		switch r.cols[i] {
		case fieldEmail:
			raw.email = v
		case fieldPhone:
			raw.phone = v
		case fieldPasswordHash:
			raw.hash = v
		case fieldCreatedAt:
			raw.createdAt = v
		case fieldEmailVerified, fieldPhoneVerified:
			b, ok := parseFlag(v)
			if !ok {
				return 0, rawRow{}, rowError(kilt.KindInvalid, CodeInvalidFlag, line, r.cols[i],
					"want true or false (or 1/0, yes/no, empty for false)")
			}
			if r.cols[i] == fieldEmailVerified {
				raw.emailVerified = b
			} else {
				raw.phoneVerified = b
			}
		}
	}
	return line, raw, nil
}

// parseFlag reads a CSV boolean: true, 1, yes, y, t; false, 0, no, n, f or empty; any case.
func parseFlag(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "y", "t":
		return true, true
	case "false", "0", "no", "n", "f", "":
		return false, true
	}
	return false, false
}

// check validates a row read from line and builds its account. It reports the first
// problem found.
func (r *Reader) check(line int, raw rawRow) (Row, error) {
	bad := func(code, field, format string, args ...any) (Row, error) {
		return Row{}, rowError(kilt.KindInvalid, code, line, field, format, args...)
	}
	email, phone := strings.TrimSpace(raw.email), strings.TrimSpace(raw.phone)
	if email == "" && phone == "" {
		return bad(CodeIdentifierRequired, "", "the row has neither an e-mail nor a phone")
	}
	a := account.Account{EmailVerified: raw.emailVerified, PhoneVerified: raw.phoneVerified}
	var err error
	if email != "" {
		if a.Email, err = account.ParseEmail(email); err != nil {
			return bad(account.CodeInvalidEmail, fieldEmail, "not a valid e-mail address")
		}
	}
	if phone != "" {
		if a.Phone, err = account.ParsePhone(phone, r.region); err != nil {
			return bad(account.CodeInvalidPhone, fieldPhone, "not a valid phone number (numbers without a country are read as %s)", r.region)
		}
	}
	if a.EmailVerified && a.Email == "" {
		return bad(CodeInvalidFlag, fieldEmailVerified, "true, but the row has no e-mail")
	}
	if a.PhoneVerified && a.Phone == "" {
		return bad(CodeInvalidFlag, fieldPhoneVerified, "true, but the row has no phone")
	}

	a.PasswordHash = strings.TrimSpace(raw.hash)
	if a.PasswordHash == "" {
		return bad(CodeInvalidHash, fieldPasswordHash, "the hash is missing")
	}
	// A hash must be one Kilt can verify and of at least the minimum import cost: a weaker
	// one is cheap to crack from a dump (docs/security.md, "Hashing").
	if err := password.CheckImport(a.PasswordHash); err != nil {
		// The detail names the problem, never the hash.
		msg := "not a hash Kilt can verify"
		if he := (*password.HashError)(nil); errors.As(err, &he) {
			msg = he.Detail
		}
		if errors.Is(err, password.ErrWeakImport) {
			return bad(CodeInvalidHash, fieldPasswordHash, "below the minimum import cost (bcrypt cost %d; Argon2 m at least 7168 KiB and m·t at least 36864)",
				password.MinImportBcryptCost)
		}
		return bad(CodeInvalidHash, fieldPasswordHash, "%s (want bcrypt $2a$/$2b$/$2y$ or $argon2id$/$argon2i$)", msg)
	}

	a.CreatedAt = r.now
	if s := strings.TrimSpace(raw.createdAt); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad(CodeInvalidCreatedAt, fieldCreatedAt, "not an RFC 3339 time (like 2024-01-02T03:04:05Z)")
		}
		if t = t.UTC().Truncate(time.Microsecond); t.After(r.now) {
			return bad(CodeInvalidCreatedAt, fieldCreatedAt, "the time is in the future")
		}
		a.CreatedAt = t
	}
	a.UpdatedAt, a.PasswordChangedAt = r.now, a.CreatedAt

	// An identifier of an earlier accepted row: report it whichever run this is, so that
	// a second run says what the first said.
	var keys []digest
	for _, id := range []struct{ field, name, key string }{
		{fieldEmail, "e-mail", "e" + account.EmailKey(a.Email)},
		{fieldPhone, "phone", "p" + a.Phone},
	} {
		if len(id.key) == 1 {
			continue
		}
		d := digest{maphash.String(r.seeds[0], id.key), maphash.String(r.seeds[1], id.key)}
		if first, ok := r.seen[d]; ok {
			return bad(CodeDuplicateRow, id.field, "the same %s as line %d", id.name, first)
		}
		keys = append(keys, d)
	}
	for _, d := range keys {
		r.seen[d] = line
	}
	return Row{Line: line, Account: a}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
