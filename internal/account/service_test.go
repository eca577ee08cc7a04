package account_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
	"kilt/internal/sqlstore"
)

// Registration and the change of password on a real SQLite database, with a clock moved by
// hand.

const goodPassword = "Tulpar-Sunkar-77"

type nopWaker struct{}

func (nopWaker) Wake() {}

type env struct {
	t        *testing.T
	now      time.Time
	db       *sqlstore.DB
	accounts *account.Service
	regs     *account.Registrations
	hasher   *password.Hasher
	client   account.Client
}

// testConsent is the consent version of the test's registrations.
const testConsent = "consent-v1"

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
	e := &env{t: t, now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), db: db,
		client: account.Client{IP: "192.0.2.1", UserAgent: "test", Lang: "kk"}}
	clock := func() time.Time { return e.now }
	hasher := password.NewHasher(password.Params{Memory: 8192, Time: 1, Threads: 1}, password.NewPool(2, 5*time.Second))
	e.hasher = hasher
	secret := []byte("0123456789abcdef0123456789abcdef")
	store := sqlstore.NewAccounts(db)
	e.accounts = account.NewService(store, sqlstore.NewAudit(db), hasher, password.DefaultPolicy(), clock,
		account.Config{Secret: secret, RecoveryURL: "http://kilt.test/recovery", FreezeURL: "http://kilt.test/freeze"})
	e.regs = account.NewRegistrations(store, e.accounts, clock, account.RegistrationConfig{
		PerIP:         ratelimit.Limit{Name: "registration_ip", Count: 100, Period: time.Hour},
		PerIdentifier: ratelimit.Limit{Name: "registration_identifier", Count: 100, Period: time.Hour},
		SMSNumberHour: ratelimit.Limit{Name: "sms_number_hour", Count: 2, Period: time.Hour},
		SMSNumberDay:  ratelimit.Limit{Name: "sms_number_day", Count: 10, Period: 24 * time.Hour},
		ConfirmURL:    "http://kilt.test/register/confirm", RecoveryURL: "http://kilt.test/recovery", Secret: secret,
		ConsentVersion: testConsent, ConsentText: func(lang string) string { return "consent in " + lang },
	}, nil, nopWaker{})
	return e
}

// messages returns the messages queued since the last call.
func (e *env) messages() []outbox.Message {
	e.t.Helper()
	var out []outbox.Message
	for _, ch := range []outbox.Channel{outbox.Email, outbox.SMS} {
		msgs, err := sqlstore.NewOutbox(e.db).Claim(context.Background(), ch, "test", e.now, 48*time.Hour, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, msgs...)
	}
	return out
}

func (e *env) register(email, phone, pw string) string {
	e.t.Helper()
	id, _, err := e.regs.Register(context.Background(), e.client, email, phone, pw, pw, testConsent)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// linkToken registers email and returns the token of the link it was sent.
func (e *env) linkToken(email, pw string) string {
	e.t.Helper()
	e.register(email, "", pw)
	msgs := e.messages()
	if len(msgs) != 1 || msgs[0].Secret["link"] == "" {
		e.t.Fatalf("messages after registering %s: %+v", email, msgs)
	}
	link := msgs[0].Secret["link"]
	return link[len(link)-43:]
}

func wantCode(t *testing.T, what string, err error, kind kilt.Kind, code string) {
	t.Helper()
	if kilt.ErrorKind(err) != kind || kilt.ErrorCode(err) != code {
		t.Errorf("%s: got %v, want %s %s", what, err, kind, code)
	}
}

// TestConfirmationProvesTheRegistrant: a newer registration supersedes the older one (by
// the address's key), and a link confirms only with the password chosen with it.
func TestConfirmationProvesTheRegistrant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const attackerPw = "Zhel-Tau-Kokshe-13"
	attacker := e.linkToken("Victim@mail.kz", attackerPw)
	victim := e.linkToken("victim@MAIL.kz", goodPassword)

	_, err := e.regs.Confirm(ctx, e.client, attacker, attackerPw)
	wantCode(t, "the superseded link", err, kilt.KindGone, account.CodeRegistrationInvalid)
	_, err = e.regs.Confirm(ctx, e.client, victim, attackerPw)
	wantCode(t, "the live link with another password", err, kilt.KindRule, account.CodePasswordIncorrect)
	_, err = e.regs.Confirm(ctx, e.client, victim, "")
	wantCode(t, "no password", err, kilt.KindRule, account.CodePasswordIncorrect)
	a, err := e.regs.Confirm(ctx, e.client, victim, goodPassword)
	if err != nil || a.Email != "victim@mail.kz" || !a.EmailVerified {
		t.Fatalf("the registrant's confirmation: %+v %v", a, err)
	}
	_, err = e.regs.Confirm(ctx, e.client, victim, goodPassword)
	wantCode(t, "confirming again", err, kilt.KindGone, account.CodeRegistrationInvalid)
}

// TestWrongPasswordsAreCounted: five wrong passwords kill the link, the right one included.
func TestWrongPasswordsAreCounted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.linkToken("dana@mail.kz", goodPassword)
	for i := 1; i <= 5; i++ {
		_, err := e.regs.Confirm(ctx, e.client, tok, "Wrong-Pass-99")
		var ke *kilt.Error
		if !errors.As(err, &ke) || ke.Code != account.CodePasswordIncorrect || ke.Details["attempts_left"] != 5-i {
			t.Errorf("wrong password %d: got %v, want password_incorrect with %d left", i, err, 5-i)
		}
	}
	_, err := e.regs.Confirm(ctx, e.client, tok, goodPassword)
	wantCode(t, "the right password after five wrong ones", err, kilt.KindGone, account.CodeRegistrationInvalid)
}

// TestRegistrationSMSLimitedWhenQueued: over a number's SMS limits a registration answers
// as usual and queues nothing, whether or not the number has an account.
func TestRegistrationSMSLimitedWhenQueued(t *testing.T) {
	e := newEnv(t)
	if _, err := e.accounts.Add(context.Background(), account.NewAccount{Phone: "+77011234567", PhoneVerified: true,
		Password: goodPassword, Confirm: goodPassword}); err != nil {
		t.Fatal(err)
	}
	for _, phone := range []string{"+77011234567", "+77017654321"} {
		for i := range 3 {
			e.register("", phone, "Another-Pass-42")
			if n, want := len(e.messages()), map[bool]int{true: 1, false: 0}[i < 2]; n != want {
				t.Errorf("%s, registration %d: %d messages queued, want %d", phone, i+1, n, want)
			}
		}
	}
}

// TestPhoneRegistrationCode: the shared code routine — counted, then compared, then
// consumed; a newer registration of the number ends the older code.
func TestPhoneRegistrationCode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	older := e.register("", "+77471234567", goodPassword)
	olderCode := e.messages()[0].Secret["code"]
	e.now = e.now.Add(time.Minute)
	id := e.register("", "+77471234567", goodPassword)
	code := e.messages()[0].Secret["code"]
	_, err := e.regs.Verify(ctx, e.client, older, olderCode)
	wantCode(t, "the superseded registration's code", err, kilt.KindGone, account.CodeRegistrationInvalid)
	for i := 1; i <= 4; i++ {
		_, err := e.regs.Verify(ctx, e.client, id, fmt.Sprintf("%06d", (atoi(code)+i)%1000000))
		wantCode(t, "a wrong code", err, kilt.KindRule, account.CodeCodeInvalid)
	}
	a, err := e.regs.Verify(ctx, e.client, id, code)
	if err != nil || a.Phone != "+77471234567" || !a.PhoneVerified {
		t.Fatalf("the right code as the fifth entry: %+v %v", a, err)
	}
	_, err = e.regs.Verify(ctx, e.client, id, code)
	wantCode(t, "the code again", err, kilt.KindGone, account.CodeRegistrationInvalid)
}

func atoi(s string) int {
	var n int
	fmt.Sscanf(s, "%d", &n)
	return n
}

// TestChangePassword: a signed-in change checks the current password and the policy,
// stores the new hash and queues the notice, which carries no secret.
func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, err := e.accounts.Add(ctx, account.NewAccount{Email: "a@mail.kz", EmailVerified: true, Password: goodPassword, Confirm: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	err = e.accounts.ChangePassword(ctx, a.ID, 0, "Not-The-Password-1", "Kokpar-Baiga-2026", "Kokpar-Baiga-2026", e.client)
	wantCode(t, "a wrong current password", err, kilt.KindForbidden, account.CodeWrongPassword)
	err = e.accounts.ChangePassword(ctx, a.ID, 0, goodPassword, goodPassword, goodPassword, e.client)
	wantCode(t, "the same password", err, kilt.KindRule, string(password.Reused))
	if err := e.accounts.ChangePassword(ctx, a.ID, 0, goodPassword, "Kokpar-Baiga-2026", "Kokpar-Baiga-2026", e.client); err != nil {
		t.Fatal(err)
	}
	msgs := e.messages()
	// Its one secret is its freeze link ("this wasn't me"), never a code or password.
	if len(msgs) != 1 || msgs[0].Kind != outbox.PasswordChanged || msgs[0].To != "a@mail.kz" || len(msgs[0].Secret) != 1 ||
		!strings.HasPrefix(msgs[0].Secret[outbox.KeyFreezeURL], "http://kilt.test/freeze?token=") {
		t.Errorf("the notice: %+v", msgs)
	}
	if got, err := e.accounts.ByID(ctx, a.ID); err != nil || got.PasswordHash == a.PasswordHash || !got.PasswordChangedAt.Equal(e.now) {
		t.Errorf("the account after the change: %+v %v", got, err)
	}
	// A reset with a token that is not there is 410, and changes nothing.
	err = e.accounts.ResetPassword(ctx, a.ID, []byte("no such token"), "Another-Pass-99", "Another-Pass-99", e.client)
	wantCode(t, "a reset without a live token", err, kilt.KindGone, account.CodeLinkInvalid)
}

// TestPasswordChangeCostsAtMostThree counts (never times) the Argon2id computations of a
// change and of a reset over a full history: the current password's check, the history
// check and the new hash, the history check's result being the new entry's key.
func TestPasswordChangeCostsAtMostThree(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	h := e.hasher
	before := h.Computations()
	a, err := e.accounts.Add(ctx, account.NewAccount{Email: "a@mail.kz", EmailVerified: true, Password: goodPassword, Confirm: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Computations() - before; got != 2 {
		t.Errorf("creating an account: got %d computations, want 2", got)
	}
	current := goodPassword
	for i, pw := range []string{"Kokzhal-Berkut-3", "Zhuldyz-Aspan-5", "Bayterek-Orman-8", "Altyn-Kyran-2!", "Dombyra-Kuy-4!", "Saryarka-Dala-6"} {
		before := h.Computations()
		if err := e.accounts.ChangePassword(ctx, a.ID, 0, current, pw, pw, e.client); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		if got := h.Computations() - before; got > 3 {
			t.Errorf("change %d: got %d computations, want at most 3", i, got)
		}
		current = pw
	}
	history, err := sqlstore.NewAccounts(e.db).PasswordHistory(ctx, a.ID, 10)
	if err != nil || len(history) != 6 {
		t.Fatalf("history: got %d entries (%v), want 6", len(history), err)
	}
	// A reset does the policy's work before it looks at the token: counted even on a 410.
	for _, pw := range []string{"Another-Pass-99", "zhuldyz-ASPAN-0"} {
		before = h.Computations()
		err = e.accounts.ResetPassword(ctx, a.ID, []byte("no such token"), pw, pw, e.client)
		if got := h.Computations() - before; got > 3 {
			t.Errorf("reset to %q (%v): got %d computations, want at most 3", pw, err, got)
		}
	}
	wantCode(t, "a reset to a look-alike of an entry", err, kilt.KindRule, string(password.Reused))
}

// TestRegisterRequiresTheConsent: a registration without the current consent version is
// refused (422, the current version in the details) before anything is stored or sent; with
// it, the version is kept with the registration and then the account.
func TestRegisterRequiresTheConsent(t *testing.T) {
	e := newEnv(t)
	const pw = "Tulpar-Sunkar-77"
	for _, v := range []string{"", "consent-v0"} {
		_, _, err := e.regs.Register(context.Background(), e.client, "dana@mail.kz", "", pw, pw, v)
		ke, ok := kilt.AsError(err)
		if !ok || ke.Code != account.CodeConsentRequired || ke.Kind != kilt.KindRule || ke.Details["consent_version"] != testConsent {
			t.Errorf("consent %q: got %v, want 422 %s with the current version", v, err, account.CodeConsentRequired)
		}
	}
	if msgs := e.messages(); len(msgs) != 0 {
		t.Errorf("refused registrations queued %d messages", len(msgs))
	}
	if v, text := e.regs.Consent("ru"); v != testConsent || text != "consent in ru" {
		t.Errorf("Consent: got %q %q", v, text)
	}
	tok := e.linkToken("dana@mail.kz", pw)
	a, err := e.regs.Confirm(context.Background(), e.client, tok, pw)
	if err != nil {
		t.Fatal(err)
	}
	if a.ConsentVersion != testConsent || !a.ConsentAt.Equal(e.now) {
		t.Errorf("account: consent %q at %v, want %q at %v", a.ConsentVersion, a.ConsentAt, testConsent, e.now)
	}
}

// TestPhoneRegistrationResend: the code step's page is described without changing anything;
// a new code comes only after the cool-down, kills the old one and gives the attempts back,
// so the fifth wrong code is not a dead end; a taken number's registration answers alike and
// its owner is told again.
func TestPhoneRegistrationResend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.register("", "+77471234567", goodPassword)
	old := e.messages()[0].Secret["code"]
	info, err := e.regs.Code(ctx, id)
	if err != nil || info.Number != "+77471234567" || info.ResendAfter != time.Minute || info.Lifetime != 10*time.Minute || info.Spent {
		t.Fatalf("the code step: %+v %v", info, err)
	}
	_, err = e.regs.Resend(ctx, e.client, id)
	wantCode(t, "a new code at once", err, kilt.KindRateLimited, account.CodeResendTooSoon)
	if ke, ok := kilt.AsError(err); !ok || ke.RetryAfter != time.Minute {
		t.Errorf("the wait: %v, want a minute", err)
	}
	for i := 1; i <= 5; i++ {
		_, err := e.regs.Verify(ctx, e.client, id, fmt.Sprintf("%06d", (atoi(old)+i)%1000000))
		wantCode(t, "a wrong code", err, kilt.KindRule, account.CodeCodeInvalid)
	}
	if info, err := e.regs.Code(ctx, id); err != nil || !info.Spent {
		t.Fatalf("after five wrong codes: %+v %v, want spent", info, err)
	}
	e.now = e.now.Add(61 * time.Second)
	info, err = e.regs.Resend(ctx, e.client, id)
	if err != nil || info.Spent || info.ResendAfter != time.Minute {
		t.Fatalf("a new code after the cool-down: %+v %v", info, err)
	}
	msgs := e.messages()
	if len(msgs) != 1 || msgs[0].Kind != outbox.RegistrationCode || msgs[0].Secret["code"] == "" {
		t.Fatalf("the new code's message: %+v", msgs)
	}
	fresh := msgs[0].Secret["code"]
	if fresh != old {
		_, err = e.regs.Verify(ctx, e.client, id, old)
		wantCode(t, "the old code", err, kilt.KindRule, account.CodeCodeInvalid)
	}
	if a, err := e.regs.Verify(ctx, e.client, id, fresh); err != nil || a.Phone != "+77471234567" {
		t.Fatalf("the new code: %+v %v", a, err)
	}
	_, err = e.regs.Resend(ctx, e.client, id)
	wantCode(t, "a new code for a completed registration", err, kilt.KindGone, account.CodeRegistrationInvalid)
	_, err = e.regs.Code(ctx, id)
	wantCode(t, "the completed registration's page", err, kilt.KindGone, account.CodeRegistrationInvalid)

	// The number is taken now: another registration of it answers alike.
	e.now = e.now.Add(2 * time.Hour)
	dup := e.register("", "+77471234567", goodPassword)
	e.messages()
	if info, err := e.regs.Code(ctx, dup); err != nil || info.Number != "+77471234567" {
		t.Fatalf("the taken number's code step: %+v %v", info, err)
	}
	e.now = e.now.Add(61 * time.Second)
	if _, err := e.regs.Resend(ctx, e.client, dup); err != nil {
		t.Fatalf("a new code for the taken number: %v", err)
	}
	if msgs := e.messages(); len(msgs) != 1 || msgs[0].Kind != outbox.AlreadyRegistered || msgs[0].To != "+77471234567" {
		t.Errorf("the owner is not told again: %+v", msgs)
	}
}

// TestParseSMSPhone: the one check registration and recovery share refuses a number that
// can never receive an SMS, whatever accounts exist.
func TestParseSMSPhone(t *testing.T) {
	e := newEnv(t)
	never := func(e164 string) error {
		if strings.HasPrefix(e164, "+7800") {
			return errors.New("toll-free")
		}
		return nil
	}
	if got, err := e.accounts.ParseSMSPhone("8 701 123 45 67", never); err != nil || got != "+77011234567" {
		t.Errorf("a mobile number: %q %v", got, err)
	}
	_, err := e.accounts.ParseSMSPhone("8 800 080 08 08", never)
	wantCode(t, "a toll-free number", err, kilt.KindInvalid, account.CodePhoneNotSupported)
	_, err = e.accounts.ParseSMSPhone("not a number", never)
	wantCode(t, "not a number", err, kilt.KindInvalid, account.CodeInvalidPhone)
	if _, err := e.accounts.ParseSMSPhone("8 800 080 08 08", nil); err != nil {
		t.Errorf("without a check: %v", err)
	}
}

// wrongCode is a code that is not code.
func wrongCode(code string, i int) string { return fmt.Sprintf("%06d", (atoi(code)+i)%1000000) }

// TestRegistrationCodeFailuresCountPerNumber: wrong codes count for the number, across
// resends and new registrations of it; ten within 24 hours stop every code check (the right
// code too), every resend and every new registration of the number until the oldest of them
// is 24 hours old. Other numbers are not touched. (Before: the count was per code only, so a
// resend or a new registration gave five more guesses, for ever.)
func TestRegistrationCodeFailuresCountPerNumber(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const number = "+77471234567"
	start := e.now
	id := e.register("", number, goodPassword)
	code := e.messages()[0].Secret["code"]
	wrong := func(id, code string, n int) {
		t.Helper()
		for i := 1; i <= n; i++ {
			_, err := e.regs.Verify(ctx, e.client, id, wrongCode(code, i))
			wantCode(t, "a wrong code", err, kilt.KindRule, account.CodeCodeInvalid)
		}
	}
	wrong(id, code, 4)
	e.now = e.now.Add(61 * time.Second)
	if _, err := e.regs.Resend(ctx, e.client, id); err != nil {
		t.Fatalf("resend: %v", err)
	}
	code = e.messages()[0].Secret["code"]
	wrong(id, code, 4)
	// A new registration of the number (after the SMS limits' hour) does not start again.
	e.now = e.now.Add(2 * time.Hour)
	id = e.register("", number, goodPassword)
	code = e.messages()[0].Secret["code"]
	wrong(id, code, 2) // ten in all
	paused := func(what string, err error) {
		t.Helper()
		wantCode(t, what, err, kilt.KindRateLimited, account.CodeCodesPaused)
		if ke, ok := kilt.AsError(err); !ok || ke.RetryAfter != start.Add(24*time.Hour).Sub(e.now) {
			t.Errorf("%s: %v, want Retry-After %v (the oldest failure's end)", what, err, start.Add(24*time.Hour).Sub(e.now))
		}
	}
	_, err := e.regs.Verify(ctx, e.client, id, code)
	paused("the right code after ten wrong ones", err)
	e.now = e.now.Add(61 * time.Second)
	_, err = e.regs.Resend(ctx, e.client, id)
	paused("a resend while paused", err)
	_, _, err = e.regs.Register(ctx, e.client, "", number, goodPassword, goodPassword, testConsent)
	paused("a new registration while paused", err)
	if msgs := e.messages(); len(msgs) != 0 {
		t.Errorf("%d messages queued while paused, want none", len(msgs))
	}
	// Another number is not paused.
	other := e.register("", "+77017654321", goodPassword)
	if a, err := e.regs.Verify(ctx, e.client, other, e.messages()[0].Secret["code"]); err != nil || a == nil {
		t.Errorf("another number's right code: %+v %v", a, err)
	}
	// Once the oldest failures are 24 hours old, the number may register again.
	e.now = start.Add(24*time.Hour + time.Second)
	id = e.register("", number, goodPassword)
	msgs := e.messages()
	if len(msgs) != 1 {
		t.Fatalf("after the pause: %d messages, want the code", len(msgs))
	}
	if a, err := e.regs.Verify(ctx, e.client, id, msgs[0].Secret["code"]); err != nil || a.Phone != number {
		t.Errorf("the right code after the pause: %+v %v", a, err)
	}
}

// TestTakenNumberRegistrationCodesPauseAlike: a taken number's registration, whose every
// code is wrong, counts and pauses exactly as a free number's, so the pause tells nothing.
func TestTakenNumberRegistrationCodesPauseAlike(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.accounts.Add(ctx, account.NewAccount{Phone: "+77011234567", PhoneVerified: true,
		Password: goodPassword, Confirm: goodPassword}); err != nil {
		t.Fatal(err)
	}
	for _, number := range []string{"+77011234567", "+77017654321"} {
		id := e.register("", number, goodPassword)
		e.messages()
		var errs []string
		for round := range 3 {
			for i := range 5 {
				_, err := e.regs.Verify(ctx, e.client, id, fmt.Sprintf("%06d", 100000+round*10+i))
				errs = append(errs, kilt.ErrorCode(err))
			}
			e.now = e.now.Add(61 * time.Second)
			answer := "resend:sent"
			if _, err := e.regs.Resend(ctx, e.client, id); err != nil {
				answer = "resend:" + kilt.ErrorCode(err)
			}
			errs = append(errs, answer)
		}
		want := "code_invalid code_invalid code_invalid code_invalid code_invalid resend:sent " +
			"code_invalid code_invalid code_invalid code_invalid code_invalid resend:codes_paused " +
			"codes_paused codes_paused codes_paused codes_paused codes_paused resend:codes_paused"
		if got := strings.Join(errs, " "); got != want {
			t.Errorf("%s:\n got %s\nwant %s", number, got, want)
		}
	}
}

// TestRefusedResendMakesNoCode: a resend over the number's SMS limits sends nothing and
// answers as a code sent (the limits are shared with recovery, which spends them only on
// numbers that have an account), but makes no new code: the old one is dead and nothing
// replaces it, so the guesses after it can only fail — and they count for the number. A
// resend refused by the cool-down changes nothing. (Before: the refused resend stored a
// fresh code nobody received, with five new attempts, and the count started again.)
func TestRefusedResendMakesNoCode(t *testing.T) {
	e := newEnv(t) // SMSNumberHour: 2
	ctx := context.Background()
	store := sqlstore.NewAccounts(e.db)
	stored := func(id string) account.Registration {
		t.Helper()
		var r account.Registration
		if err := store.InTx(ctx, func(tx account.Tx) error {
			var err error
			r, err = tx.Registration(ctx, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	id := e.register("", "+77471234567", goodPassword)
	code := e.messages()[0].Secret["code"]
	_, err := e.regs.Verify(ctx, e.client, id, wrongCode(code, 1))
	wantCode(t, "a wrong code", err, kilt.KindRule, account.CodeCodeInvalid)
	// Before the cool-down: 429, and the code and its count stay.
	before := stored(id)
	_, err = e.regs.Resend(ctx, e.client, id)
	wantCode(t, "a resend before the cool-down", err, kilt.KindRateLimited, account.CodeResendTooSoon)
	if after := stored(id); !bytes.Equal(after.CodeMAC, before.CodeMAC) || after.Attempts != 1 || !after.ExpiresAt.Equal(before.ExpiresAt) {
		t.Errorf("a refused resend changed the registration: %+v, was %+v", after, before)
	}
	e.now = e.now.Add(61 * time.Second)
	sent, err := e.regs.Resend(ctx, e.client, id) // the number's second SMS this hour
	if err != nil {
		t.Fatal(err)
	}
	code = e.messages()[0].Secret["code"]
	_, err = e.regs.Verify(ctx, e.client, id, wrongCode(code, 1))
	wantCode(t, "a wrong code", err, kilt.KindRule, account.CodeCodeInvalid)
	e.now = e.now.Add(61 * time.Second)
	refused, err := e.regs.Resend(ctx, e.client, id) // the third: over the hour's limit
	if err != nil || refused != sent {
		t.Errorf("the refused resend answered %+v %v, want as the one sent: %+v", refused, err, sent)
	}
	if msgs := e.messages(); len(msgs) != 0 {
		t.Errorf("%d messages queued over the SMS limit", len(msgs))
	}
	if r := stored(id); r.CodeMAC != nil {
		t.Errorf("the refused resend stored a code nobody received: %x", r.CodeMAC)
	}
	// The last code sent is dead, as after any resend; every guess fails, and counts: two
	// wrong codes before, eight now make ten.
	_, err = e.regs.Verify(ctx, e.client, id, code)
	wantCode(t, "the code sent before the refused resend", err, kilt.KindRule, account.CodeCodeInvalid)
	if ke, ok := kilt.AsError(err); !ok || ke.Details["attempts_left"] != 4 {
		t.Errorf("attempts left after the refused resend: %v, want 4 as after a code sent", err)
	}
	for i := 1; i <= 4; i++ {
		_, err = e.regs.Verify(ctx, e.client, id, wrongCode(code, i))
		wantCode(t, "a guess", err, kilt.KindRule, account.CodeCodeInvalid)
	}
	e.now = e.now.Add(61 * time.Second)
	if _, err := e.regs.Resend(ctx, e.client, id); err != nil {
		t.Fatalf("a resend over the limit: %v", err)
	}
	for i := 1; i <= 3; i++ {
		_, err = e.regs.Verify(ctx, e.client, id, wrongCode(code, i))
		wantCode(t, "a guess", err, kilt.KindRule, account.CodeCodeInvalid)
	}
	_, err = e.regs.Verify(ctx, e.client, id, code)
	wantCode(t, "the eleventh code", err, kilt.KindRateLimited, account.CodeCodesPaused)
}
