// Command kilt is the Kilt account service: `kilt serve` runs it, the other commands are
// for its operators. Run `kilt help` for the list.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/config"
	"kilt/internal/outbox"
	"kilt/internal/server"
)

// version is set at build time with -ldflags "-X main.version=…"; else the module's.
var version = ""

const usage = `kilt — accounts, sign-in and password recovery for a citizen portal

Usage:
  kilt serve [--dev] [flags]       run the service (--dev: a working portal on http://localhost:8080)
  kilt migrate [flags]             apply database migrations (serve also does at start)
  kilt user add --email E | --phone P [--password-stdin]
                                   create an account (identifiers marked verified)
  kilt user show ID|E-MAIL|PHONE   show an account
  kilt user lock|unlock ID|E-MAIL|PHONE
  kilt user import [flags] FILE    import users with bcrypt/argon2 hashes from JSON lines or CSV (-h)
  kilt operator add E-MAIL|PHONE --role support|admin
                                   make an account an operator of the service-centre console
  kilt operator remove E-MAIL|PHONE
  kilt operator list
  kilt outbox list [--status S] [--limit N]
                                   list messages, newest first (never their secrets)
  kilt outbox retry ID             send an abandoned or blocked message again
  kilt client add --name NAME --redirect-uri URI [--redirect-uri URI …] [--public] [--first-party]
                  [--post-logout-redirect-uri URI] [--backchannel-logout-uri URI] [--scope S …]
                                   register an application that signs citizens in (OpenID Connect)
  kilt client list | show ID | remove ID | rotate-secret ID
  kilt keys rotate [--alg RS256|ES256]
                                   a new token signing key (the old one stays published a while)
  kilt config check [flags]        validate and print the configuration, secrets masked
  kilt version                     print the version

Every setting is an environment variable and a flag; 'kilt config check -h' lists them.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code: 0 done, 1 failed, 2 misused.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, stdout, stderr)
	case "migrate":
		err = migrate(ctx, rest, stdout, stderr)
	case "user":
		err = user(ctx, rest, stdin, stdout, stderr)
	case "outbox":
		err = outboxCmd(ctx, rest, stdout, stderr)
	case "client":
		err = clientCmd(ctx, rest, stdout, stderr)
	case "keys":
		err = keysCmd(ctx, rest, stdout, stderr)
	case "operator":
		err = operatorCmd(ctx, rest, stdout, stderr)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = configCheck(rest[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "kilt", versionString())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "kilt: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "kilt %s: %v\n", cmd, err)
		return 2
	}
	fmt.Fprintf(stderr, "kilt %s: %s\n", cmd, describe(err))
	return 1
}

// usageError is a command misused: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// describe is what an operator reads of an error: the configuration problems one per line,
// a domain error by its code and message.
func describe(err error) string {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return err.Error()
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// load reads the configuration with the command's own flags already on fs.
func load(fs *flag.FlagSet, args []string, stderr io.Writer, opts config.Options) (*config.Config, error) {
	fs.SetOutput(stderr)
	return config.Load(fs, args, nil, opts)
}

func openApp(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) (*server.App, error) {
	return server.Open(ctx, cfg, server.NewLogger(cfg, stderr), nil, stdout)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	start := time.Now()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, err := load(fs, args, stderr, config.Options{Serve: true})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	app, err := openApp(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	// Libraries that log through slog's default (the single sign-on provider's) log as Kilt
	// does, with the request id.
	slog.SetDefault(server.DefaultLogger(app.Log))
	gc := app.TuneGC(os.Getenv)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	app.Log.Info("kilt ready", "version", versionString(), "listen", ln.Addr().String(),
		"base_url", cfg.BaseURL.String(), "dev", cfg.Dev, "gc", gc, "startup_ms", time.Since(start).Milliseconds())
	if cfg.Dev {
		fmt.Fprintf(stdout, "Kilt is running at %s (development mode; Ctrl-C stops it)\n", cfg.BaseURL)
	}
	return app.Serve(ctx, ln)
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfg, err := load(fs, args, stderr, config.Options{})
	if err != nil {
		return err
	}
	app, err := openApp(ctx, cfg, stdout, stderr) // Open applies what is pending
	if err != nil {
		return err
	}
	defer app.Close()
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}

func configCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	cfg, err := load(fs, args, stderr, config.Options{Serve: true})
	if err != nil {
		return err
	}
	cfg.Dump(stdout)
	fmt.Fprintln(stdout, "# configuration is valid")
	return nil
}

func user(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"want add, show, lock or unlock"}
	}
	sub, args := args[0], args[1:]
	if sub == "import" {
		return userImport(ctx, args, stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	var email, phone *string
	var pwStdin *bool
	if sub == "add" {
		email = fs.String("email", "", "e-mail address of the account")
		phone = fs.String("phone", "", "mobile phone number of the account")
		pwStdin = fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	}
	cfg, err := load(fs, args, stderr, config.Options{})
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		if *email == "" && *phone == "" || fs.NArg() > 0 {
			return usageError{"want --email E and/or --phone P"}
		}
		pw, confirm, err := readPassword(stdin, stderr, *pwStdin)
		if err != nil {
			return err
		}
		app, err := openApp(ctx, cfg, stdout, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		a, err := app.Accounts.Add(ctx, account.NewAccount{Email: *email, Phone: *phone,
			EmailVerified: *email != "", PhoneVerified: *phone != "", Password: pw, Confirm: confirm})
		if err != nil {
			return domainError(err)
		}
		fmt.Fprintf(stdout, "account %d created\n", a.ID)
		return nil
	case "show", "lock", "unlock":
		if fs.NArg() != 1 {
			return usageError{"want one account: its ID, e-mail or phone"}
		}
		app, err := openApp(ctx, cfg, stdout, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		a, err := findAccount(ctx, app, fs.Arg(0))
		if err != nil {
			return domainError(err)
		}
		if sub == "show" {
			printAccount(stdout, a)
			events, err := app.Accounts.Recent(ctx, a.ID, 20)
			if err != nil {
				return err
			}
			printEvents(stdout, events)
			return nil
		}
		if err := app.Sessions.SetLocked(ctx, a.ID, sub == "lock", "by an operator (kilt user "+sub+")"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %d %sed\n", a.ID, sub)
		return nil
	}
	return usageError{fmt.Sprintf("unknown user command %q: want add, show, lock or unlock", sub)}
}

// findAccount finds an account by ID, e-mail or phone.
func findAccount(ctx context.Context, app *server.App, ref string) (*account.Account, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 && !strings.HasPrefix(ref, "8") && len(ref) < 10 {
		return app.Accounts.ByID(ctx, id)
	}
	id, err := app.Accounts.ParseIdentifier(ref)
	if err != nil {
		return nil, err
	}
	return app.Accounts.Lookup(ctx, id)
}

func printAccount(w io.Writer, a *account.Account) {
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "id:                  %d\n", a.ID)
	if a.Email != "" {
		fmt.Fprintf(w, "email:               %s (verified: %s)\n", a.Email, yes[a.EmailVerified])
	}
	if a.Phone != "" {
		fmt.Fprintf(w, "phone:               %s (verified: %s)\n", a.Phone, yes[a.PhoneVerified])
	}
	fmt.Fprintf(w, "locked:              %s\n", yes[a.Locked])
	fmt.Fprintf(w, "created:             %s\n", a.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "password changed:    %s\n", a.PasswordChangedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "password hash:       %s\n", hashScheme(a.PasswordHash))
}

// printEvents lists the account's recent audit events, newest first.
func printEvents(w io.Writer, events []audit.Event) {
	fmt.Fprintln(w, "recent events:")
	if len(events) == 0 {
		fmt.Fprintln(w, "  (none)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Type, e.IP, e.Detail)
	}
	tw.Flush()
}

// hashScheme names the hash's algorithm and cost, never the hash itself.
func hashScheme(h string) string {
	parts := strings.Split(h, "$")
	switch {
	case len(parts) >= 4 && strings.HasPrefix(parts[1], "argon2"):
		return parts[1] + " " + parts[3]
	case len(parts) >= 3 && strings.HasPrefix(parts[1], "2"):
		return "bcrypt cost " + parts[2]
	}
	return "unknown"
}

// domainError turns a domain error into the operator's words: its code and, for password
// rules, every broken rule.
func domainError(err error) error {
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal {
		return err
	}
	if v, ok := e.Details["violations"].([]string); ok {
		return fmt.Errorf("the password breaks these rules: %s", strings.Join(v, ", "))
	}
	if errors.Is(err, kilt.ErrNotFound) {
		return errors.New("no such account")
	}
	return errors.New(e.Code)
}

// readPassword reads the new password: the first line of stdin with --password-stdin,
// else twice from the terminal without echo.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (pw, confirm string, err error) {
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", "", err
		}
		line = strings.TrimRight(line, "\r\n")
		return line, line, nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", "", usageError{"standard input is not a terminal: use --password-stdin"}
	}
	fmt.Fprint(stderr, "Password: ")
	a, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", "", err
	}
	fmt.Fprint(stderr, "Repeat password: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", "", err
	}
	return string(a), string(b), nil
}

func outboxCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "retry") {
		return usageError{"want list or retry"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("outbox "+sub, flag.ContinueOnError)
	status := fs.String("status", "", "only messages in this status: pending, sending, sent, abandoned, blocked")
	limit := fs.Int("limit", 50, "at most this many messages")
	cfg, err := load(fs, args, stderr, config.Options{})
	if err != nil {
		return err
	}
	app, err := openApp(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if sub == "retry" {
		if fs.NArg() != 1 {
			return usageError{"want one message ID"}
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || id <= 0 {
			return usageError{fmt.Sprintf("%q is not a message ID", fs.Arg(0))}
		}
		if err := app.Outbox.Retry(ctx, id, app.Clock()); err != nil {
			if e, ok := kilt.AsError(err); ok && e.Kind != kilt.KindInternal {
				if errors.Is(err, kilt.ErrNotFound) {
					return errors.New("no such message")
				}
				return errors.New(e.Message)
			}
			return err
		}
		fmt.Fprintf(stdout, "message %d will be sent again\n", id)
		return nil
	}
	msgs, err := app.Outbox.List(ctx, outbox.Filter{Status: outbox.Status(*status), Limit: *limit})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tCHANNEL\tKIND\tTO\tSTATUS\tATTEMPTS\tLAST ERROR")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", m.ID, m.CreatedAt.Format(time.RFC3339), m.Channel, m.Kind,
			maskTo(m), m.Status, m.Attempts, m.LastError)
	}
	return tw.Flush()
}

// maskTo shows a message's destination masked, as the logs do.
func maskTo(m outbox.Message) string {
	if m.Channel == outbox.Email {
		return account.MaskEmail(m.To)
	}
	return account.MaskPhone(m.To)
}
