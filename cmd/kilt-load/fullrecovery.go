package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"kilt/internal/password"
	"kilt/internal/recovery"
)

// fullRecovery is one whole recovery by SMS code through the API, as the performance targets time it (docs/performance.md): ask
// for a code for an account's number (POST /recovery/phone), wait until the tool's SMS sink
// has the code, verify it (POST /recovery/phone/verify), and set a new password with the
// reset token (POST /recovery/reset). The operation's latency is all of it; the report also
// gives each step's.
//
// Each client owns its accounts (client c takes accounts c, c+N, c+2N, … of --accounts, in
// turn), so the code that comes to a number is always the one its client is waiting for.
// A number takes a fixed number of code checks an hour (recovery.DefaultLimits's
// VerifyPerNumber, 30, not configurable), so a client uses each of its accounts at most that
// often: without --accounts each client gets accountsPerClient of them, and a client that
// has used all of its own stops with errAccountsUsedUp rather than measure 429s as
// recoveries.
// The accounts are a family of their own (load-reset-i@load.kilt.test): their passwords
// change with every operation, and the login scenario's must not.
type fullRecovery struct {
	env                             *Env
	requestURL, verifyURL, resetURL string
	policy                          password.Policy
	// turns counts each client's operations; calls with the same client number never
	// overlap, so it needs no lock.
	turns []int
}

func (*fullRecovery) Name() string { return "full-recovery" }

func (*fullRecovery) Summary() string {
	return "recover by SMS code end to end (request, code at the SMS sink, verify, new password); needs --database"
}

func (*fullRecovery) Unit() string { return "recoveries" }

// accountsPerClient is how many accounts each client gets without --accounts: 64 × 30 code
// checks an hour is 1,920 recoveries per client, more than a client does in a run.
const accountsPerClient = 64

// DefaultAccounts gives each client accountsPerClient accounts.
func (*fullRecovery) DefaultAccounts(clients int) int { return clients * accountsPerClient }

// checksPerNumber is how many codes the server checks for one number an hour.
var checksPerNumber = recovery.DefaultLimits().VerifyPerNumber.Count

// errAccountsUsedUp: every account of the client has had its hour's code checks.
var errAccountsUsedUp = errors.New("every account of this client has had its code checks of the hour: give --accounts")

// Sinks: the code comes by SMS; the "password changed" notices go to both channels.
func (*fullRecovery) Sinks() (mail, sms bool) { return true, true }

func (*fullRecovery) Requirements(a sinkAddrs) []requirement {
	return append([]requirement{needNoIPLimit, needNoIdentifierLimit, needNoAccountLimit,
		needNoSMSHourLimit, needNoSMSDayLimit, needNoSMSBudget,
		needMailSink(a.Mail, "the \"password changed\" e-mails go nowhere, and the server keeps retrying them")},
		needSMSSink(a.SMS, "no code reaches the tool: every recovery waits for it in vain")...)
}

// Prepare makes sure the accounts exist with their verified numbers.
func (f *fullRecovery) Prepare(ctx context.Context, env *Env) error {
	if !env.HasDatabase {
		return errors.New("the full-recovery scenario creates its accounts first: give --database (the server's KILT_DATABASE_URL)")
	}
	if env.Accounts < env.Clients {
		return fmt.Errorf("%d accounts for %d clients: each client needs an account of its own, or two could wait for "+
			"codes to the same number (--accounts at least --concurrency)", env.Accounts, env.Clients)
	}
	f.env = env
	f.requestURL = env.endpoint("/api/v1/recovery/phone")
	f.verifyURL = env.endpoint("/api/v1/recovery/phone/verify")
	f.resetURL = env.endpoint("/api/v1/recovery/reset")
	f.policy = password.DefaultPolicy()
	f.turns = make([]int, env.Clients)
	return prepareAccounts(ctx, env, resetAccounts, env.Accounts, true)
}

// errNoCode: the SMS sink got no code for the number in time.
var errNoCode = errors.New("no code reached the SMS sink in time")

// Do recovers client's next account. A step that fails ends the operation with its
// status, in the class "failed at STEP".
func (f *fullRecovery) Do(ctx context.Context, client int) (Outcome, error) {
	owned := (f.env.Accounts - client + f.env.Clients - 1) / f.env.Clients
	if f.turns[client] >= owned*checksPerNumber {
		return Outcome{Class: "accounts used up"}, errAccountsUsedUp
	}
	i := client + f.turns[client]%owned*f.env.Clients
	f.turns[client]++
	email, phone := resetAccounts.email(i), resetAccounts.phone(i)
	var o Outcome
	step := func(name string, start time.Time) {
		o.Steps = append(o.Steps, Step{Name: name, Duration: time.Since(start)})
	}
	fail := func(name string, status int, err error) (Outcome, error) {
		o.Class, o.Status = "failed at "+name, status
		return o, err
	}

	codes, stop := f.env.SMS.Expect(phone)
	defer stop()
	start := time.Now()
	var flow struct {
		FlowID string `json:"flow_id"`
	}
	status, err := f.call(ctx, f.requestURL, map[string]string{"phone": phone}, http.StatusAccepted, &flow)
	step("request", start)
	if err != nil || status != http.StatusAccepted {
		return fail("request", status, err)
	}

	start = time.Now()
	timer := time.NewTimer(f.env.Timeout)
	defer timer.Stop()
	var code string
	select {
	case code = <-codes:
	case <-timer.C:
		step("code", start)
		return fail("code", 0, errNoCode)
	case <-ctx.Done():
		return fail("code", 0, ctx.Err())
	}
	step("code", start)

	start = time.Now()
	var verified struct {
		ResetToken string `json:"reset_token"`
	}
	status, err = f.call(ctx, f.verifyURL, map[string]string{"flow_id": flow.FlowID, "code": code}, http.StatusOK, &verified)
	step("verify", start)
	if err != nil || status != http.StatusOK {
		return fail("verify", status, err)
	}

	start = time.Now()
	pw := newPassword(f.policy, email, phone)
	status, err = f.call(ctx, f.resetURL, map[string]string{"token": verified.ResetToken, "password": pw, "password_confirm": pw},
		http.StatusNoContent, nil)
	step("reset", start)
	if err != nil || status != http.StatusNoContent {
		return fail("reset", status, err)
	}
	o.Class, o.Status = "completed", status
	return o, nil
}

// call posts body as JSON and, when the status is want and out is not nil, decodes the
// answer into out. An answer that does not decode is an error that names the URL only: an
// answer may hold a token.
func (f *fullRecovery) call(ctx context.Context, url string, body map[string]string, want int, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, errors.New("encoding the request")
	}
	status, answer, err := f.env.post(ctx, url, b)
	if err != nil || status != want || out == nil {
		return status, err
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return status, fmt.Errorf("the answer of %s does not decode", url)
	}
	return status, nil
}

// Syllables make the letters of new passwords: 65 consonant-vowel pairs, five to a
// password, give 1.2·10⁹ skeletons (the letters, lower-cased, that the history rule
// compares), so a new password is similar to one of an account's last six by chance about
// once in 200 million.
var (
	consonants = []byte("bdfgkmnprstvz")
	vowels     = []byte("aeiou")
	symbols    = []byte("!#%*?@^~")
)

// newPassword returns a random password that the policy takes for the account of email and
// phone: a capitalised run of syllables, two digits and a symbol. A draw that breaks a static
// rule (a common word, the account's name by chance) is drawn again; the history rule holds
// by chance (see syllables).
func newPassword(p password.Policy, email, phone string) string {
	subject := password.Subject{Email: email, Phone: phone}
	for {
		var b strings.Builder
		for i := range 5 {
			c := consonants[rand.IntN(len(consonants))]
			if i == 0 {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
			b.WriteByte(vowels[rand.IntN(len(vowels))])
		}
		fmt.Fprintf(&b, "%02d", rand.IntN(100))
		b.WriteByte(symbols[rand.IntN(len(symbols))])
		pw := b.String()
		if len(p.Check(pw, pw, subject)) == 0 {
			return pw
		}
	}
}
