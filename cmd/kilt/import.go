package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"kilt"
	"kilt/internal/config"
	"kilt/internal/sqlstore"
	"kilt/internal/userimport"
)

const importUsage = `Usage: kilt user import [flags] FILE

Imports an existing user base: accounts with an e-mail and/or a phone and the bcrypt or
Argon2 hash of their password. Each imported user signs in with their old password, and
that first sign-in replaces the hash by an Argon2id hash at the configured cost.

FILE is JSON lines (.jsonl, .ndjson, .json: one object per line) or CSV (.csv: a header
row naming the columns, in any order), or - for standard input with --format. Fields:

  email           e-mail address                          email and/or phone required
  phone           phone number, any common spelling (KILT_PHONE_REGION is the default country)
  email_verified  true/false (CSV also 1/0, yes/no)       default false
  phone_verified  true/false (CSV also 1/0, yes/no)       default false
  password_hash   $2a$/$2b$/$2y$ (bcrypt) or $argon2id$/$argon2i$ (PHC, v=19), required
  created_at      RFC 3339 time, not in the future        default now

  {"email":"aigerim@mail.kz","email_verified":true,"password_hash":"$2b$12$…","created_at":"2024-01-02T03:04:05Z"}

  email,phone,email_verified,phone_verified,password_hash
  aigerim@mail.kz,+77011234567,yes,no,$2b$12$…
  ,87017654321,,yes,"$argon2id$v=19$m=65536,t=3,p=4$…$…"   (quote Argon2 hashes: they hold commas)

Other fields are refused. A bad row is reported on standard error (line, field, reason;
never the hash) and skipped; the rest are imported, and the exit code is 1. A row whose
e-mail or phone already has an account is skipped as existing, so running the same file
again changes nothing; a row sharing an identifier with an earlier row of the file, or
whose e-mail and phone belong to two different accounts, is reported. Rows are written
--batch at a time, one transaction each: an interrupted import keeps what it wrote, and
running it again finishes it. On a terminal a progress bar shows the rate and time left;
otherwise a progress line is printed every 10,000 rows or 5 seconds. The summary goes to
standard output.

Flags:
`

// userImport runs `kilt user import [flags] FILE` (see importUsage).
func userImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user import", flag.ContinueOnError)
	formatName := fs.String("format", "", "jsonl or csv (default: from FILE's extension)")
	batch := fs.Int("batch", userimport.DefaultBatch, "rows written per transaction (1 to 100000)")
	dryRun := fs.Bool("dry-run", false, "check every row, against the database too, and write nothing")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	cfg, err := load(fs, args, stderr, config.Options{})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"want one file: kilt user import [flags] FILE (flags before the file; -h for the format)"}
	}
	if *batch < 1 || *batch > 100000 {
		return usageError{"--batch must be between 1 and 100000"}
	}
	name := fs.Arg(0)
	format, ok := userimport.FormatOf(name)
	if *formatName != "" {
		if format, err = userimport.ParseFormat(*formatName); err != nil {
			return usageError{err.Error()}
		}
	} else if !ok {
		return usageError{fmt.Sprintf("cannot tell the format of %q from its name: use --format jsonl or --format csv", name)}
	}

	in, size := stdin, int64(0)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	}

	// Ctrl-C or SIGTERM ends the import between two statements; what was committed stays.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app, err := openApp(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	src, err := userimport.NewReader(in, format, cfg.PhoneRegion, app.Clock())
	if err != nil {
		if e, ok := kilt.AsError(err); ok && e.Message != "" {
			return errors.New(e.Message)
		}
		return err
	}

	p := newProgress(stderr, isTerminal(stderr), time.Now, size)
	st, err := userimport.Run(ctx, src, sqlstore.NewAccounts(app.DB), userimport.Options{
		BatchSize: *batch, DryRun: *dryRun, Problem: p.problem, Progress: p.update})
	p.clear()
	fmt.Fprintln(stdout, summary(st, p.now().Sub(p.start), *dryRun))
	switch {
	case err != nil && ctx.Err() != nil:
		return errors.New("interrupted: the batches written are kept; run the same command again to finish")
	case err != nil:
		return err
	case st.Invalid > 0:
		return fmt.Errorf("%d of %d rows were not imported (listed above)", st.Invalid, st.Rows)
	}
	return nil
}

// summary is the last line of an import.
func summary(st userimport.Stats, elapsed time.Duration, dryRun bool) string {
	verb := "imported"
	if dryRun {
		verb = "dry run, nothing written: would import"
	}
	return fmt.Sprintf("%s %d, existing %d, invalid %d; %d rows in %s (%.0f rows/s)",
		verb, st.Imported, st.Existing, st.Invalid, st.Rows, elapsed.Round(time.Millisecond), rate(st.Rows, elapsed))
}

func rate(rows int, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(rows) / elapsed.Seconds()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress shows how an import advances on w: on a terminal, one line redrawn in place at
// most every redrawEvery; otherwise a plain line every plainRows rows or plainEvery.
// Problems are printed above it. The size of the file (0 if unknown, as for a pipe) gives
// the share done and the time left, from the bytes read so far.
type progress struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	start time.Time
	size  int64

	last     time.Time // of the last line drawn or printed
	lastRows int
	drawn    bool // a bar is on the terminal's current line
}

const (
	redrawEvery = 100 * time.Millisecond
	plainRows   = 10000
	plainEvery  = 5 * time.Second
	barWidth    = 24
)

func newProgress(w io.Writer, tty bool, now func() time.Time, size int64) *progress {
	t := now()
	return &progress{w: w, tty: tty, now: now, start: t, size: size, last: t}
}

// update is given the counts after each batch.
func (p *progress) update(st userimport.Stats) {
	now := p.now()
	if p.tty {
		if now.Sub(p.last) < redrawEvery && p.drawn {
			return
		}
		fmt.Fprint(p.w, "\r"+p.bar(st, now)+"\x1b[K")
		p.drawn = true
	} else {
		if st.Rows-p.lastRows < plainRows && now.Sub(p.last) < plainEvery {
			return
		}
		fmt.Fprintln(p.w, p.line(st, now))
	}
	p.last, p.lastRows = now, st.Rows
}

// problem prints one reported row.
func (p *progress) problem(err error) {
	p.clear()
	fmt.Fprintln(p.w, userimport.DescribeProblem(err))
}

// clear removes the bar, if one is drawn, so that the next line starts clean.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// bar is the terminal line: "[#####.......]  42%  42000/~100000 rows  15000 rows/s  ETA 4s".
func (p *progress) bar(st userimport.Stats, now time.Time) string {
	elapsed := now.Sub(p.start)
	var b strings.Builder
	if share, ok := p.share(st); ok {
		n := int(share * barWidth)
		fmt.Fprintf(&b, "[%s%s] %3.0f%%  %d/~%d rows", strings.Repeat("#", n), strings.Repeat(".", barWidth-n),
			100*share, st.Rows, int(float64(st.Rows)/share))
	} else {
		fmt.Fprintf(&b, "%d rows", st.Rows)
	}
	fmt.Fprintf(&b, "  %.0f rows/s", rate(st.Rows, elapsed))
	if eta, ok := p.eta(st, elapsed); ok {
		fmt.Fprintf(&b, "  ETA %s", eta)
	}
	return b.String()
}

// line is the plain progress line.
func (p *progress) line(st userimport.Stats, now time.Time) string {
	elapsed := now.Sub(p.start)
	var b strings.Builder
	fmt.Fprintf(&b, "import: %d rows", st.Rows)
	if share, ok := p.share(st); ok {
		fmt.Fprintf(&b, " (%.0f%% of the file)", 100*share)
	}
	fmt.Fprintf(&b, ", %d imported, %d existing, %d invalid, %.0f rows/s", st.Imported, st.Existing, st.Invalid,
		rate(st.Rows, elapsed))
	if eta, ok := p.eta(st, elapsed); ok {
		fmt.Fprintf(&b, ", ETA %s", eta)
	}
	return b.String()
}

// share is the part of the file read, when its size is known.
func (p *progress) share(st userimport.Stats) (float64, bool) {
	if p.size <= 0 || st.Bytes <= 0 {
		return 0, false
	}
	return min(float64(st.Bytes)/float64(p.size), 1), true
}

// eta is the time left at the rate so far, when the file's size is known.
func (p *progress) eta(st userimport.Stats, elapsed time.Duration) (time.Duration, bool) {
	share, ok := p.share(st)
	if !ok || elapsed <= 0 {
		return 0, false
	}
	left := time.Duration(float64(elapsed) * (1 - share) / share)
	return left.Round(time.Second), true
}
