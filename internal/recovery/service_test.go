package recovery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/recovery"
	"kilt/internal/sqlstore"
)

// The recovery service on a real SQLite database, with a clock moved by hand.

const goodPassword = "Tulpar-Sunkar-77"

type waker struct{ n atomic.Int32 }

func (w *waker) Wake() { w.n.Add(1) }

type env struct {
	t         *testing.T
	now       time.Time
	db        *sqlstore.DB
	accounts  *account.Service
	svc       *recovery.Service
	processor *recovery.Processor
	wake      *waker
	client    recovery.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), db: db, wake: &waker{},
		client: recovery.Client{IP: "192.0.2.1", UserAgent: "test", Lang: "kk"}}
	clock := func() time.Time { return e.now }
	hasher := password.NewHasher(password.Params{Memory: 8192, Time: 1, Threads: 1}, password.NewPool(2, 5*time.Second))
	secret := []byte("0123456789abcdef0123456789abcdef")
	e.accounts = account.NewService(sqlstore.NewAccounts(db), sqlstore.NewAudit(db), hasher, password.DefaultPolicy(), clock,
		account.Config{Secret: secret, RecoveryURL: "http://kilt.test/recovery"})
	cfg := recovery.Config{Secret: secret, ResetURL: "http://kilt.test/recovery/reset"}
	e.processor = recovery.NewProcessor(sqlstore.NewRecovery(db), clock, cfg, nil, e.wake, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.svc = recovery.NewService(sqlstore.NewRecovery(db), e.accounts, clock, cfg, nil, e.wake)
	return e
}

func (e *env) addAccount(email, phone string) *account.Account {
	e.t.Helper()
	a, err := e.accounts.Add(context.Background(), account.NewAccount{Email: email, Phone: phone, EmailVerified: email != "",
		PhoneVerified: phone != "", Password: goodPassword, Confirm: goodPassword})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// resolve runs the processor and returns the secrets of the messages it queued.
func (e *env) resolve() []outbox.Message {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.processor.Step(ctx); err != nil {
		e.t.Fatal(err)
	}
	var out []outbox.Message
	for _, ch := range []outbox.Channel{outbox.Email, outbox.SMS} {
		msgs, err := sqlstore.NewOutbox(e.db).Claim(ctx, ch, "test", e.now, 48*time.Hour, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, msgs...)
	}
	return out
}

func (e *env) requestPhone(phone string) (string, string) {
	e.t.Helper()
	f, err := e.svc.RequestPhone(context.Background(), e.client, phone)
	if err != nil {
		e.t.Fatal(err)
	}
	code := ""
	for _, m := range e.resolve() {
		code = m.Secret["code"]
	}
	return f.ID, code
}

func wrong(code string) string {
	var n int
	fmt.Sscanf(code, "%d", &n)
	return fmt.Sprintf("%06d", (n+1)%1000000)
}

func wantCode(t *testing.T, what string, err error, kind kilt.Kind, code string) {
	t.Helper()
	if kilt.ErrorKind(err) != kind || kilt.ErrorCode(err) != code {
		t.Errorf("%s: got %v, want %s %s", what, err, kind, code)
	}
}

// TestRequestsWakeOnlyWhenAsked: the request path never wakes the processor itself; the
// surfaces wake it after the answer is written, so its work cannot delay the answer.
func TestRequestsWakeOnlyWhenAsked(t *testing.T) {
	e := newEnv(t)
	e.addAccount("a@mail.kz", "+77011234567")
	ctx := context.Background()
	if err := e.svc.RequestEmail(ctx, e.client, "a@mail.kz"); err != nil {
		t.Fatal(err)
	}
	f, err := e.svc.RequestPhone(ctx, e.client, "+77011234567")
	if err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute)
	if _, err := e.svc.Resend(ctx, e.client, f.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.wake.n.Load(); n != 0 {
		t.Errorf("the request path woke the processor %d times, want 0", n)
	}
	e.svc.Wake()
	if n := e.wake.n.Load(); n != 1 {
		t.Errorf("Wake: %d wakes, want 1", n)
	}
}

// TestCodeLifecycle: a correct code gives a reset token once; wrong codes count down; the
// fifth kills the code; an expired code is told apart; a resend starts again.
func TestCodeLifecycle(t *testing.T) {
	e := newEnv(t)
	e.addAccount("", "+77011234567")
	ctx := context.Background()
	id, code := e.requestPhone("+77011234567")
	if code == "" {
		t.Fatal("no code was queued")
	}
	for i := 1; i <= 5; i++ {
		_, err := e.svc.Verify(ctx, e.client, id, wrong(code))
		var ke *kilt.Error
		if !errors.As(err, &ke) || ke.Code != account.CodeCodeInvalid || ke.Details["attempts_left"] != 5-i {
			t.Errorf("wrong code %d: got %v, want code_invalid with %d left", i, err, 5-i)
		}
	}
	_, err := e.svc.Verify(ctx, e.client, id, code)
	wantCode(t, "the right code after five wrong ones", err, kilt.KindGone, recovery.CodeFlowGone)

	e.now = e.now.Add(time.Minute)
	if _, err := e.svc.Resend(ctx, e.client, id); err != nil {
		t.Fatal(err)
	}
	code = e.resolve()[0].Secret["code"]
	e.now = e.now.Add(5 * time.Minute)
	_, err = e.svc.Verify(ctx, e.client, id, code)
	wantCode(t, "an expired code", err, kilt.KindGone, recovery.CodeCodeExpired)

	id, code = e.requestPhone("+77011234567")
	_, err = e.svc.Verify(ctx, e.client, id, "12345")
	wantCode(t, "five digits", err, kilt.KindInvalid, account.CodeCodeFormat)
	token, err := e.svc.Verify(ctx, e.client, id, code)
	if err != nil || token == "" {
		t.Fatalf("the right code: %q %v", token, err)
	}
	_, err = e.svc.Verify(ctx, e.client, id, code)
	wantCode(t, "the code again", err, kilt.KindGone, recovery.CodeFlowGone)
	if err := e.svc.Reset(ctx, e.client, token, "Kokpar-Baiga-2026", "Kokpar-Baiga-2026"); err != nil {
		t.Fatal(err)
	}
	err = e.svc.Reset(ctx, e.client, token, "Another-Pass-99", "Another-Pass-99")
	wantCode(t, "the reset token again", err, kilt.KindGone, recovery.CodeLinkInvalid)
}

// TestPauseEndsEveryLiveCode: ten wrong codes over two flows pause the number; the right
// code of a third flow, live when the pause began, is refused, and no new code is sent.
func TestPauseEndsEveryLiveCode(t *testing.T) {
	e := newEnv(t)
	a := e.addAccount("", "+77011234567")
	ctx := context.Background()
	type flow struct{ id, code string }
	var flows []flow
	for range 3 {
		id, code := e.requestPhone("+77011234567")
		flows = append(flows, flow{id, code})
	}
	for _, f := range flows[:2] {
		for range 5 {
			_, err := e.svc.Verify(ctx, e.client, f.id, wrong(f.code))
			wantCode(t, "a wrong code", err, kilt.KindRule, account.CodeCodeInvalid)
		}
	}
	_, err := e.svc.Verify(ctx, e.client, flows[2].id, flows[2].code)
	wantCode(t, "a live code after the pause", err, kilt.KindGone, recovery.CodeFlowGone)
	got, err := e.accounts.ByID(ctx, a.ID)
	if err != nil || !got.SMSPausedUntil.Equal(e.now.Add(24*time.Hour)) {
		t.Errorf("the account's pause: %v %v, want until %v", got.SMSPausedUntil, err, e.now.Add(24*time.Hour))
	}
	if _, code := e.requestPhone("+77011234567"); code != "" {
		t.Error("a code was sent while paused")
	}
	// A day later the failures have aged out and the pause is over.
	e.now = e.now.Add(24*time.Hour + time.Second)
	id, code := e.requestPhone("+77011234567")
	if _, err := e.svc.Verify(ctx, e.client, id, code); err != nil {
		t.Errorf("a code after the pause: %v", err)
	}
}

// TestNumbersWithoutAccountPauseAlike: a number without an account answers every code as
// one with an account answers a wrong code, pause included; other numbers' failures do not
// count for it.
func TestNumbersWithoutAccountPauseAlike(t *testing.T) {
	e := newEnv(t)
	e.addAccount("", "+77011234567")
	ctx := context.Background()
	for i := range 3 {
		id, _ := e.requestPhone(fmt.Sprintf("+7701765430%d", i))
		for range 5 {
			e.svc.Verify(ctx, e.client, id, "000000")
		}
	}
	answers := map[string][]string{}
	for _, phone := range []string{"+77011234567", "+77017654321"} {
		for range 3 {
			id, code := e.requestPhone(phone)
			guess := "000000"
			if code == guess {
				guess = "000001"
			}
			for range 5 {
				_, err := e.svc.Verify(ctx, e.client, id, guess)
				answers[phone] = append(answers[phone], fmt.Sprint(err))
			}
		}
	}
	known, unknown := answers["+77011234567"], answers["+77017654321"]
	for i := range known {
		if known[i] != unknown[i] {
			t.Errorf("attempt %d: %s with an account, %s without", i+1, known[i], unknown[i])
		}
	}
	if unknown[9] == unknown[10] {
		t.Errorf("the 11th attempt answers as the 10th (%s): no pause", unknown[10])
	}
}

// TestVerifyLimitedPerIP: one client gets a bounded number of code checks.
func TestVerifyLimitedPerIP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	verifier := e.client
	limited := 0
	for i := range 40 {
		e.client.IP = fmt.Sprintf("198.51.100.%d", i) // the flows come from elsewhere
		id, _ := e.requestPhone(fmt.Sprintf("+770176543%02d", i))
		for range 4 {
			_, err := e.svc.Verify(ctx, verifier, id, "000000")
			if kilt.ErrorKind(err) == kilt.KindRateLimited {
				limited++
			}
		}
	}
	if limited != 10 {
		t.Errorf("of 160 code checks from one IP at once, %d were limited, want 10 (150 an hour)", limited)
	}
}

// TestLockRefusesReset: a link issued before an operator's lock cannot reset the password
// while the account is locked.
func TestLockRefusesReset(t *testing.T) {
	e := newEnv(t)
	a := e.addAccount("a@mail.kz", "")
	ctx := context.Background()
	if err := e.svc.RequestEmail(ctx, e.client, "a@mail.kz"); err != nil {
		t.Fatal(err)
	}
	link := e.resolve()[0].Secret["link"]
	token := link[len(link)-43:]
	if err := e.svc.Check(ctx, token); err != nil {
		t.Fatalf("a fresh link: %v", err)
	}
	if err := sqlstore.NewAccounts(e.db).InTx(ctx, func(tx account.Tx) error { return tx.SetLocked(ctx, a.ID, true, e.now) }); err != nil {
		t.Fatal(err)
	}
	err := e.svc.Reset(ctx, e.client, token, "Kokpar-Baiga-2026", "Kokpar-Baiga-2026")
	wantCode(t, "a reset of the locked account", err, kilt.KindGone, recovery.CodeLinkInvalid)
	got, err := e.accounts.ByID(ctx, a.ID)
	if err != nil || got.PasswordHash != a.PasswordHash {
		t.Errorf("the locked account's password changed: %v", err)
	}
}

// TestBatchResolvedInOrderOfAccounts: the processor resolves a batch in the order of the
// identifiers, not of the requests, so that two instances' processors lock accounts in one
// order. Before, two instances on PostgreSQL deadlocked resolving batches for the same
// accounts in different orders (docs/performance.md, "Two instances").
func TestBatchResolvedInOrderOfAccounts(t *testing.T) {
	e := newEnv(t)
	for _, email := range []string{"c@mail.kz", "a@mail.kz", "b@mail.kz"} {
		e.addAccount(email, "")
	}
	ctx := context.Background()
	for _, email := range []string{"b@mail.kz", "C@mail.kz", "a@mail.kz"} {
		if err := e.svc.RequestEmail(ctx, e.client, email); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, m := range e.resolve() {
		got = append(got, m.To)
	}
	if want := []string{"a@mail.kz", "b@mail.kz", "c@mail.kz"}; !slices.Equal(got, want) {
		t.Errorf("messages queued for %v, want %v", got, want)
	}
}

// chanWaker signals each Wake on a channel.
type chanWaker chan struct{}

func (w chanWaker) Wake() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// TestWokenProcessorGathersABurst: woken, the running processor lets requests gather before
// it takes its batch, and resolves the ten that came meanwhile in one transaction whose
// requests are deleted by one statement, instead of a transaction per wake.
func TestWokenProcessorGathersABurst(t *testing.T) {
	e := newEnv(t)
	for i := range 10 {
		e.addAccount(fmt.Sprintf("a%d@mail.kz", i), "")
	}
	sent := make(chanWaker, 1)
	p := recovery.NewProcessor(sqlstore.NewRecovery(e.db), func() time.Time { return e.now },
		recovery.Config{Secret: []byte("0123456789abcdef0123456789abcdef"), ResetURL: "http://kilt.test/recovery/reset"},
		nil, sent, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Only the wake may start a step: the fallback poll, every second, would take an empty
	// batch in a transaction of its own if it ticked before the burst was counted.
	p.SetPoll(time.Hour)
	gathering, release := make(chan struct{}), make(chan struct{})
	p.SetGather(func(ctx context.Context) {
		select {
		case gathering <- struct{}{}:
		case <-ctx.Done():
			return
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { p.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	n := 0
	request := func() {
		if err := e.svc.RequestEmail(ctx, e.client, fmt.Sprintf("a%d@mail.kz", n)); err != nil {
			t.Fatal(err)
		}
		n++
	}
	p.Wake()
	select {
	case <-gathering:
	case <-time.After(10 * time.Second):
		t.Fatal("the woken processor took its batch without letting requests gather")
	}
	for range 10 {
		request()
	}
	_, before := e.db.Counts()
	statementsBefore, _ := e.db.Counts()
	release <- struct{}{}
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("the processor resolved nothing")
	}
	statements, after := e.db.Counts()
	if after-before != 1 {
		t.Errorf("the burst took %d transactions, want 1", after-before)
	}
	var left int
	if err := e.db.QueryRow(ctx, `SELECT count(*) FROM recovery_requests`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d requests left, want 0", left)
	}
	// Per known request: the account read, the limit read and write, the older links used
	// up, the token, the message (6); and once for the batch the requests read and deleted
	// (2) and the ten audit rows, in an INSERT of 8 rows and one of 2 (2). (Before the audit
	// rows went in together, each was a statement of its own: 10*7+2.)
	if got, want := statements-statementsBefore, uint64(10*6+2+2); got != want {
		t.Errorf("the burst took %d statements, want %d", got, want)
	}
}

// TestRequestPhoneRefusesNumbersWithoutSMS: a number the check says can never receive an SMS
// is refused at once, 400 phone_not_supported, as registration refuses it — not answered
// «an SMS was sent» — and no flow starts; the answer depends on the number alone.
func TestRequestPhoneRefusesNumbersWithoutSMS(t *testing.T) {
	e := newEnv(t)
	never := func(e164 string) error {
		if strings.HasPrefix(e164, "+7800") {
			return errors.New("toll-free")
		}
		return nil
	}
	svc := recovery.NewService(sqlstore.NewRecovery(e.db), e.accounts, func() time.Time { return e.now },
		recovery.Config{Secret: []byte("0123456789abcdef0123456789abcdef")}, never, e.wake)
	_, err := svc.RequestPhone(context.Background(), e.client, "8 800 080 08 08")
	if kilt.ErrorKind(err) != kilt.KindInvalid || kilt.ErrorCode(err) != account.CodePhoneNotSupported {
		t.Errorf("a toll-free number: got %v, want 400 phone_not_supported", err)
	}
	if f, err := svc.RequestPhone(context.Background(), e.client, "8 701 123 45 67"); err != nil || f.ID == "" {
		t.Errorf("a mobile number: %+v %v", f, err)
	}
}
