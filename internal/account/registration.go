package account

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"kilt"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
)

// Registration is a registration waiting for its identifier to be confirmed.
type Registration struct {
	ID         string
	Channel    outbox.Channel
	Identifier string // normalised e-mail or E.164
	// Key finds the registrations of one identifier: EmailKey of the address, or the E.164.
	Key string
	// PasswordHash and HistoryKey become the account's password and first history entry
	// (password.HistoryEntry). SkeletonHash is set instead of HistoryKey only in
	// registrations made before history keys (migration 0050).
	PasswordHash string
	SkeletonHash string
	HistoryKey   string
	Lang         string
	TokenHash    []byte // e-mail: the confirmation link's token
	CodeMAC      []byte // phone: the code
	Attempts     int
	// Duplicate: the identifier already had an account. Such a registration answers like
	// any other and can never be completed; its owner was told to recover instead.
	Duplicate bool
	// ConsentVersion is the personal-data consent given, at CreatedAt.
	ConsentVersion string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	CompletedAt    time.Time // zero: not completed
}

// RegistrationConfig holds registration's lifetimes and limits.
type RegistrationConfig struct {
	LinkLifetime time.Duration // 24 h: a confirmation link
	CodeLifetime time.Duration // 10 min: a confirmation code
	// CodeAttempts bounds the wrong codes of a phone registration and the wrong passwords
	// given with the link of an e-mail registration.
	CodeAttempts int // 5
	// ResendCooldown is the wait between two codes of a phone registration.
	ResendCooldown time.Duration // 60 s
	// CodeFailures wrong codes for a number's registrations within FailureWindow stop every
	// code check and SMS of its registrations until the oldest of them leaves the window:
	// at most CodeFailures guesses for a number in any FailureWindow, whatever the resends
	// and the new registrations of it.
	CodeFailures  int           // 10
	FailureWindow time.Duration // 24 h
	// VerifyPerNumber bounds the codes checked for one number's registrations, whatever
	// the registrations and clients (30 an hour). Taking it also serializes the checks of
	// one number (the limit's row is locked until the check commits), so that the count of
	// wrong codes that pauses the number is exact under parallel guesses to several
	// registrations of it; it cannot be switched off.
	VerifyPerNumber ratelimit.Limit
	PerIP           ratelimit.Limit
	// PerIdentifier counts registrations of an identifier whether or not it has an account.
	PerIdentifier ratelimit.Limit
	// SMSNumberHour and SMSNumberDay are shared with recovery (same names, same keys). They
	// are taken when the SMS is queued, in the registration's transaction, whether or not
	// the number has an account: over them nothing is sent and the answer is the same.
	SMSNumberHour ratelimit.Limit
	SMSNumberDay  ratelimit.Limit
	ConfirmURL    string // BASE_URL/register/confirm
	// ConsentVersion is the current version of the personal-data consent text
	// (brand.Brand.ConsentVersion): a registration must give it. "": no consent asked
	// (tests of other rules only; the server always sets it).
	ConsentVersion string
	// ConsentText is the consent's text in a language (nil: none).
	ConsentText func(lang string) string
	RecoveryURL string // BASE_URL/recovery
	Secret      []byte
	// OnLimit, when set, is told the name of every limit that refused something (metrics).
	OnLimit func(name string)
	// OnFlow, when set, is told of registrations started and completed ("registration",
	// channel, "started"|"completed") and of wrong codes.
	OnFlow func(flow, channel, event string)
}

func (c RegistrationConfig) flow(channel outbox.Channel, event string) {
	if c.OnFlow != nil {
		c.OnFlow("registration", string(channel), event)
	}
}

// Registrations registers new accounts, enumeration-safe: a taken identifier gets the same
// answer as a free one, and its owner a "you already have an account" message.
type Registrations struct {
	store   Store
	hasher  *password.Hasher
	policy  password.Policy
	clock   kilt.Clock
	cfg     RegistrationConfig
	accts   *Service
	check   NumberCheck
	wake    outbox.Waker
	codeKey []byte
	keys    []byte
	pepper  []byte
}

// NewRegistrations returns the registration service. check tells whether an SMS may go to a
// number (nil: any).
func NewRegistrations(store Store, accts *Service, clock kilt.Clock, cfg RegistrationConfig,
	check NumberCheck, wake outbox.Waker) *Registrations {
	if cfg.LinkLifetime <= 0 {
		cfg.LinkLifetime = 24 * time.Hour
	}
	if cfg.CodeLifetime <= 0 {
		cfg.CodeLifetime = 10 * time.Minute
	}
	if cfg.CodeAttempts <= 0 {
		cfg.CodeAttempts = 5
	}
	if cfg.ResendCooldown <= 0 {
		cfg.ResendCooldown = time.Minute
	}
	if cfg.CodeFailures <= 0 {
		cfg.CodeFailures = 10
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 24 * time.Hour
	}
	if !cfg.VerifyPerNumber.Enabled() {
		cfg.VerifyPerNumber = ratelimit.Limit{Name: "registration_verify_number", Count: 30, Period: time.Hour}
	}
	return &Registrations{store: store, hasher: accts.hasher, policy: accts.policy, clock: clock, cfg: cfg,
		accts: accts, check: check, wake: wake,
		codeKey: kilt.DeriveKey(cfg.Secret, "registration-code"), keys: ratelimit.IdentifierKey(cfg.Secret),
		pepper: accts.pepper}
}

// Register starts a registration with an e-mail address or a phone number (exactly one),
// a password and the version of the personal-data consent the citizen agreed to. It
// returns the registration's id and channel; 400 for a malformed or unsupported
// identifier, 422 for a password the policy refuses or a consent version that is not the
// current one (personal_data_consent_required, details.consent_version the current), 429
// over the limits of the IP or the identifier, 429 codes_paused with Retry-After for a
// number paused by wrong codes (Verify). A newer registration of an identifier ends
// every older pending one. The caller calls Wake once the answer is written.
func (g *Registrations) Register(ctx context.Context, c Client, email, phone, pw, confirm, consent string) (string, outbox.Channel, error) {
	if (email == "") == (phone == "") {
		return "", "", kilt.E(kilt.KindInvalid, CodeChannelRequired)
	}
	r := &Registration{Lang: c.Lang}
	var subject password.Subject
	var limitKey string
	var err error
	if r.Channel, r.Identifier, r.Key, limitKey, err = g.newIdentifier(email, phone); err != nil {
		return "", "", err
	}
	if r.Channel == outbox.Email {
		subject.Email = r.Identifier
	} else {
		subject.Phone = r.Identifier
	}
	if err := g.policy.Validate(ctx, g.hasher, g.pepper, pw, confirm, subject); err != nil {
		return "", "", err
	}
	// The consent must be the text shown now: an older page or client agreed to other words.
	if consent != g.cfg.ConsentVersion {
		return "", "", kilt.E(kilt.KindRule, CodeConsentRequired).WithDetails("consent_version", g.cfg.ConsentVersion)
	}
	r.ConsentVersion = consent
	// The limits come before the hashing, so a client over them costs no Argon2id work. They
	// apply to taken and free identifiers alike.
	key, err := g.takeClient(ctx, c, limitKey)
	if err != nil {
		return "", "", err
	}
	// The password is hashed for a taken identifier too: the same work, the same time.
	now := g.clock()
	h, err := g.hasher.NewHistoryEntry(ctx, g.pepper, pw, nil, now)
	if err != nil {
		return "", "", err
	}
	if r.ID, err = kilt.NewID(); err != nil {
		return "", "", err
	}
	r.PasswordHash, r.HistoryKey, r.CreatedAt = h.PasswordHash, h.Key, now
	fresh := outbox.Message{Channel: r.Channel, Lang: c.Lang, To: r.Identifier, CreatedAt: now}
	if r.Channel == outbox.Email {
		token, tokenHash, err := kilt.NewToken()
		if err != nil {
			return "", "", err
		}
		r.TokenHash, r.ExpiresAt = tokenHash, now.Add(g.cfg.LinkLifetime)
		fresh.Kind = outbox.RegistrationLink
		fresh.SetPayload(outbox.LinkPayload{Link: g.cfg.ConfirmURL + "?token=" + token, Lifetime: g.cfg.LinkLifetime})
	} else {
		code, err := kilt.NewCode()
		if err != nil {
			return "", "", err
		}
		r.CodeMAC, r.ExpiresAt = kilt.CodeMAC(g.codeKey, r.ID, code), now.Add(g.cfg.CodeLifetime)
		fresh.Kind = outbox.RegistrationCode
		fresh.SetPayload(outbox.CodePayload{Code: code, Lifetime: g.cfg.CodeLifetime})
	}
	ev := audit.Event{Type: audit.RegistrationRequested, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: string(r.Channel)}
	if err := g.store.InTx(ctx, func(tx Tx) error { return g.record(ctx, tx, r, fresh, key, ev) }); err != nil {
		return "", "", err
	}
	g.cfg.flow(r.Channel, "started")
	return r.ID, r.Channel, nil
}

// Consent is the personal-data consent a registration must give: its current version and
// its text in lang, as the registration page and GET /api/v1/consent show it.
func (g *Registrations) Consent(lang string) (version, text string) {
	if g.cfg.ConsentText != nil {
		text = g.cfg.ConsentText(lang)
	}
	return g.cfg.ConsentVersion, text
}

// newIdentifier parses the one identifier of a new channel, e-mail or phone (exactly one
// given), as registration and a change of channel (channels.go) both take it: the channel,
// the normalised identifier, the key its rows are found by (EmailKey or the E.164) and the
// key of its limits. 400 for a malformed identifier or a number the SMS guard refuses (not
// a mobile number of an allowed country).
func (g *Registrations) newIdentifier(email, phone string) (ch outbox.Channel, value, key, limitKey string, err error) {
	if (email == "") == (phone == "") {
		return "", "", "", "", kilt.E(kilt.KindInvalid, CodeChannelRequired)
	}
	if email != "" {
		addr, err := ParseEmail(email)
		if err != nil {
			return "", "", "", "", err
		}
		return outbox.Email, addr, EmailKey(addr), "e:" + EmailKey(addr), nil
	}
	e164, err := g.accts.ParseSMSPhone(phone, g.check)
	if err != nil {
		return "", "", "", "", err
	}
	return outbox.SMS, e164, e164, "p:" + e164, nil
}

// takeClient takes the per-IP and per-identifier limits of a new identifier (registration's,
// shared with a change of channel) in a transaction of its own, for taken and free
// identifiers alike: 429 rate_limited over them. It returns the identifier's keyed limit key.
func (g *Registrations) takeClient(ctx context.Context, c Client, limitKey string) (string, error) {
	key := kilt.KeyedHash(g.keys, limitKey)
	var res ratelimit.Result
	err := g.store.InTx(ctx, func(tx Tx) error {
		var err error
		res, err = tx.Take(ctx, append(ratelimit.ClientChecks(g.cfg.PerIP, c.IP), ratelimit.Check{Limit: g.cfg.PerIdentifier, Key: key}), g.clock())
		return err
	})
	if err != nil {
		return "", err
	}
	if !res.Allowed {
		g.refused(res)
		return "", kilt.E(kilt.KindRateLimited, CodeRateLimited).WithRetryAfter(res.RetryAfter)
	}
	return key, nil
}

// takeSMS takes a number's SMS limits (per hour and per day, shared with recovery) in tx,
// before an SMS to it is queued: it returns the names of the limits that refused ("" when
// the SMS may go). Over them nothing is sent and the answer stays the same.
func (g *Registrations) takeSMS(ctx context.Context, tx Tx, key string, now time.Time) (string, error) {
	res, err := tx.Take(ctx, []ratelimit.Check{{Limit: g.cfg.SMSNumberHour, Key: key}, {Limit: g.cfg.SMSNumberDay, Key: key}}, now)
	if err != nil {
		return "", err
	}
	if !res.Allowed {
		g.refused(res)
		return strings.Join(res.Refused, ","), nil
	}
	return "", nil
}

// Config returns the configuration in force (the pages say how long a link or code lasts).
func (g *Registrations) Config() RegistrationConfig { return g.cfg }

// Wake tells the dispatcher a message is waiting. The surfaces call it once the answer is
// written.
func (g *Registrations) Wake() { g.wake.Wake() }

func (g *Registrations) refused(res ratelimit.Result) {
	if g.cfg.OnLimit != nil {
		for _, n := range res.Refused {
			g.cfg.OnLimit(n)
		}
	}
}

// record stores registration r in tx and queues one message: fresh when r's identifier has
// no account; else the "you already have an account" message to the owner, and r can never
// complete. The work is the same either way. Every older pending registration of the
// identifier ends: only the newest can be confirmed. An SMS is queued only within the
// number's SMS limits, taken here for taken and free numbers alike, so that neither the
// answer nor its timing depends on what recovery spent for an account. While the number is
// paused by wrong codes, nothing is stored or sent: 429 codes_paused.
func (g *Registrations) record(ctx context.Context, tx Tx, r *Registration, fresh outbox.Message, key string, ev audit.Event) error {
	if r.Channel == outbox.SMS {
		// A new registration of a paused number starts nothing: neither a code nor its SMS.
		if wait, err := g.paused(ctx, tx, g.failureKey(r.Identifier), r.CreatedAt); err != nil || wait > 0 {
			return cmp.Or(err, codesPaused(wait))
		}
	}
	if err := tx.EndRegistrations(ctx, r.Channel, r.Key, r.CreatedAt); err != nil {
		return err
	}
	var a *Account
	var err error
	if r.Channel == outbox.Email {
		a, err = tx.AccountByEmail(ctx, EmailKey(r.Identifier))
	} else {
		a, err = tx.AccountByPhone(ctx, r.Identifier)
	}
	if err != nil && !errors.Is(err, kilt.ErrNotFound) {
		return err
	}
	msg := fresh
	if a != nil {
		// The owner is told at the address the account has, as it was registered.
		r.Duplicate, r.TokenHash, r.CodeMAC = true, nil, nil
		msg = outbox.Message{Channel: r.Channel, Kind: outbox.AlreadyRegistered, Lang: fresh.Lang, To: a.Email,
			AccountID: a.ID, CreatedAt: r.CreatedAt}
		msg.SetPayload(outbox.AlreadyRegisteredPayload{RecoveryURL: g.cfg.RecoveryURL})
		if r.Channel == outbox.SMS {
			msg.To = a.Phone
		}
		ev.AccountID = a.ID
	}
	if err := tx.InsertRegistration(ctx, *r); err != nil {
		return err
	}
	if r.Channel == outbox.SMS {
		refused, err := g.takeSMS(ctx, tx, key, r.CreatedAt)
		if err != nil {
			return err
		}
		if refused != "" {
			ev.Detail += " over " + refused + ": nothing sent"
			return tx.Audit(ctx, ev)
		}
	}
	if err := tx.Enqueue(ctx, &msg); err != nil {
		return err
	}
	return tx.Audit(ctx, ev)
}

// complete creates the account of registration r in tx, verified, and marks r completed.
func complete(ctx context.Context, tx Tx, r Registration, now time.Time, ev audit.Event) (*Account, error) {
	a := &Account{PasswordHash: r.PasswordHash, Lang: r.Lang, CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
	if r.ConsentVersion != "" {
		a.ConsentVersion, a.ConsentAt = r.ConsentVersion, r.CreatedAt
	}
	if r.Channel == outbox.Email {
		a.Email, a.EmailVerified = r.Identifier, true
	} else {
		a.Phone, a.PhoneVerified = r.Identifier, true
	}
	h := password.HistoryEntry{PasswordHash: r.PasswordHash, SkeletonHash: r.SkeletonHash, Key: r.HistoryKey, CreatedAt: now}
	if err := insertAccount(ctx, tx, a, h); err != nil {
		return nil, err
	}
	r.CompletedAt, r.TokenHash, r.CodeMAC = now, nil, nil
	if err := tx.UpdateRegistration(ctx, r); err != nil {
		return nil, err
	}
	ev.AccountID = a.ID
	return a, tx.Audit(ctx, ev)
}

// pending reports whether r can still be completed at now.
func (r Registration) pending(now time.Time) bool {
	return r.CompletedAt.IsZero() && !r.Duplicate && now.Before(r.ExpiresAt)
}

// Confirm completes an e-mail registration with its link's token and the password chosen
// at registration — the proof that the one confirming is the one who registered, so that
// nobody can pre-register someone else's address with a password of their own. The
// account is created with its address verified. Unknown, expired, used and superseded
// links all get 410 registration_invalid; a wrong password 422 password_incorrect with
// details.attempts_left, and after CodeAttempts wrong ones the link is dead.
func (g *Registrations) Confirm(ctx context.Context, c Client, token, pw string) (*Account, error) {
	gone := kilt.E(kilt.KindGone, CodeRegistrationInvalid)
	if !kilt.WellFormedToken(token) {
		return nil, gone
	}
	now := g.clock()
	tokenHash := kilt.HashToken(token)
	// The attempt is counted before the password is checked, so parallel guesses are all
	// counted; the check itself (Argon2id) runs outside any transaction.
	var r Registration
	err := g.store.InTx(ctx, func(tx Tx) error {
		var err error
		if r, err = tx.RegistrationByToken(ctx, tokenHash); err != nil {
			return err
		}
		if !r.pending(now) || r.Attempts >= g.cfg.CodeAttempts {
			return kilt.ErrNotFound
		}
		r.Attempts++
		return tx.UpdateRegistration(ctx, r)
	})
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	// No password the policy allowed is longer than its maximum: no hashing for one that is.
	ok := false
	if pw != "" && utf8.RuneCountInString(pw) <= g.policy.MaxLength {
		if ok, _, err = g.hasher.Verify(ctx, pw, r.PasswordHash); err != nil {
			return nil, err
		}
	}
	if !ok {
		g.cfg.flow(outbox.Email, "code_failed")
		return nil, g.wrongPassword(g.cfg.CodeAttempts - r.Attempts)
	}
	var a *Account
	err = g.store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.RegistrationByToken(ctx, tokenHash)
		if err != nil {
			return err
		}
		if !cur.pending(now) {
			return kilt.ErrNotFound
		}
		a, err = complete(ctx, tx, cur, now,
			audit.Event{Type: audit.RegistrationCompleted, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: "email"})
		return err
	})
	if errors.Is(err, kilt.ErrNotFound) || kilt.ErrorKind(err) == kilt.KindConflict {
		return nil, gone
	}
	if err == nil {
		g.cfg.flow(outbox.Email, "completed")
	}
	return a, err
}

func (g *Registrations) wrongPassword(left int) error {
	return kilt.E(kilt.KindRule, CodePasswordIncorrect).WithDetails("attempts_left", max(left, 0))
}

// Verify completes a phone registration with its code: the account is created with its
// number verified. A wrong code is 422 code_invalid with details.attempts_left (a taken
// number's registration answers every code so); after the last attempt, or for an unknown,
// expired or superseded registration, 410 registration_invalid. Wrong codes also count for
// the number, across its resends and registrations, taken or free alike: after
// CodeFailures of them within FailureWindow no code of the number's registrations is
// checked, the right one neither, and the answer is 429 codes_paused with Retry-After.
// Over VerifyPerNumber, 429 rate_limited.
func (g *Registrations) Verify(ctx context.Context, c Client, id, code string) (*Account, error) {
	gone := kilt.E(kilt.KindGone, CodeRegistrationInvalid)
	if !kilt.WellFormedID(id) {
		return nil, gone
	}
	if !kilt.WellFormedCode(code) {
		return nil, kilt.E(kilt.KindInvalid, CodeCodeFormat)
	}
	now := g.clock()
	mac := kilt.CodeMAC(g.codeKey, id, code)
	var a *Account
	var attempts int
	var pause time.Duration
	res := ratelimit.Result{Allowed: true}
	err := g.store.InTx(ctx, func(tx Tx) error {
		r, err := tx.Registration(ctx, id)
		if err != nil {
			return err
		}
		if r.Channel != outbox.SMS || !r.CompletedAt.IsZero() || !now.Before(r.ExpiresAt) {
			return kilt.ErrNotFound
		}
		// The checks of one number are decided one after the other: its limit's row is taken
		// (and locked) before the failures are counted, so the count is exact.
		key := g.failureKey(r.Identifier)
		if res, err = tx.Take(ctx, []ratelimit.Check{{Limit: g.cfg.VerifyPerNumber, Key: key}}, now); err != nil || !res.Allowed {
			return err
		}
		if pause, err = g.paused(ctx, tx, key, now); err != nil || pause > 0 {
			return err
		}
		otc := kilt.OneTimeCode{MAC: r.CodeMAC, Attempts: r.Attempts, ExpiresAt: r.ExpiresAt}
		switch kilt.CheckCode(&otc, mac, g.cfg.CodeAttempts, now) {
		case kilt.CodeSpent, kilt.CodeExpired:
			return kilt.ErrNotFound
		case kilt.CodeMatched:
			a, err = complete(ctx, tx, r, now,
				audit.Event{Type: audit.RegistrationCompleted, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: "sms"})
			return err
		}
		r.CodeMAC, r.Attempts, attempts = otc.MAC, otc.Attempts, otc.Attempts
		if err := tx.UpdateRegistration(ctx, r); err != nil {
			return err
		}
		return g.countFailure(ctx, tx, c, key, now)
	})
	switch {
	case errors.Is(err, kilt.ErrNotFound), kilt.ErrorKind(err) == kilt.KindConflict:
		return nil, gone
	case err != nil:
		return nil, err
	case pause > 0:
		return nil, codesPaused(pause)
	case !res.Allowed:
		g.refused(res)
		return nil, kilt.E(kilt.KindRateLimited, CodeRateLimited).WithRetryAfter(res.RetryAfter)
	case a != nil:
		g.cfg.flow(outbox.SMS, "completed")
		return a, nil
	}
	g.cfg.flow(outbox.SMS, "code_failed")
	return nil, kilt.E(kilt.KindRule, CodeCodeInvalid).WithDetails("attempts_left", g.cfg.CodeAttempts-attempts)
}

// failureKey is the key the wrong registration codes of a number are counted under: a keyed
// hash like recovery's, the same for a taken and a free number, so that neither the count
// nor its cost tells them apart and the table never holds numbers. Its label is
// registration's own: registration's guesses are capped by this rule and recovery's by
// recovery's, and neither flow's failures end the other's (a number's owner keeps its
// recovery whatever someone registering the number types).
func (g *Registrations) failureKey(e164 string) string { return kilt.KeyedHash(g.keys, "r:p:"+e164) }

// paused returns how long the registrations of the number whose failure key is key must wait
// before a code of theirs is checked or sent: 0 while its wrong codes within FailureWindow
// are fewer than CodeFailures, else until the CodeFailures-th newest leaves the window.
func (g *Registrations) paused(ctx context.Context, tx Tx, key string, now time.Time) (time.Duration, error) {
	times, err := tx.CodeFailureTimes(ctx, key, now.Add(-g.cfg.FailureWindow))
	if err != nil || len(times) < g.cfg.CodeFailures {
		return 0, err
	}
	return times[g.cfg.CodeFailures-1].Add(g.cfg.FailureWindow).Sub(now), nil
}

// countFailure records a wrong registration code under the number's key, for taken and free
// numbers alike, and in the audit trail.
func (g *Registrations) countFailure(ctx context.Context, tx Tx, c Client, key string, now time.Time) error {
	if err := tx.PruneCodeFailures(ctx, key, now.Add(-g.cfg.FailureWindow)); err != nil {
		return err
	}
	if err := tx.AddCodeFailure(ctx, key, now); err != nil {
		return err
	}
	return tx.Audit(ctx, audit.Event{Type: audit.CodeFailed, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: "registration"})
}

// codesPaused is the answer for a number paused by wrong codes. Saying so tells nothing about
// accounts: the count is the same for a taken and a free number.
func codesPaused(wait time.Duration) error {
	return kilt.E(kilt.KindRateLimited, CodeCodesPaused).WithRetryAfter(wait)
}

// CodeInfo is what the page of a phone registration's code shows: where the code went, when
// a new one may be asked for, how long the code lasts, and whether it can still be entered.
type CodeInfo struct {
	Number      string        // E.164, as the person typed it in
	ResendAfter time.Duration // 0: a new code may be asked for now
	Lifetime    time.Duration // how long a code lasts
	// Spent: the wrong codes used up the code's attempts; only a new code helps.
	Spent bool
}

// Code describes phone registration id for its code page, changing nothing; 410
// registration_invalid for an unknown, completed, superseded or expired one. A taken
// number's registration is described alike. The id is the capability: only the browser that
// registered knows it.
func (g *Registrations) Code(ctx context.Context, id string) (CodeInfo, error) {
	if !kilt.WellFormedID(id) {
		return CodeInfo{}, kilt.E(kilt.KindGone, CodeRegistrationInvalid)
	}
	var r Registration
	err := g.store.InTx(ctx, func(tx Tx) error {
		var err error
		r, err = tx.Registration(ctx, id)
		return err
	})
	now := g.clock()
	if errors.Is(err, kilt.ErrNotFound) || err == nil && (r.Channel != outbox.SMS || !r.CompletedAt.IsZero() || !now.Before(r.ExpiresAt)) {
		return CodeInfo{}, kilt.E(kilt.KindGone, CodeRegistrationInvalid)
	}
	if err != nil {
		return CodeInfo{}, err
	}
	return g.codeInfo(r, now), nil
}

// codeInfo describes r at now. A code is sent at ExpiresAt − CodeLifetime: the
// registration keeps no other time of its last code, and needs none.
func (g *Registrations) codeInfo(r Registration, now time.Time) CodeInfo {
	sent := r.ExpiresAt.Add(-g.cfg.CodeLifetime)
	return CodeInfo{Number: r.Identifier, ResendAfter: max(sent.Add(g.cfg.ResendCooldown).Sub(now), 0),
		Lifetime: g.cfg.CodeLifetime, Spent: r.Attempts >= g.cfg.CodeAttempts}
}

// Resend sends a new code for phone registration id once the cool-down since the last one
// is over: the old code dies, the count of wrong entries of the code starts again and the
// registration lasts CodeLifetime from now; the count of the number's wrong codes (Verify)
// goes on. Before the cool-down, 429 resend_too_soon with the wait; while the number is
// paused by wrong codes, 429 codes_paused with the wait; over the client's registration
// limit, 429 rate_limited — none of them changes anything. An unknown, completed,
// superseded or expired registration, 410 registration_invalid. Over the number's SMS
// limits nothing is sent and no new code is made, yet the answer is that of a code sent
// (see below). A taken number's registration answers alike and its owner is told again,
// within the number's SMS limits as for any other. The caller calls Wake once the answer
// is written.
func (g *Registrations) Resend(ctx context.Context, c Client, id string) (CodeInfo, error) {
	gone := kilt.E(kilt.KindGone, CodeRegistrationInvalid)
	if !kilt.WellFormedID(id) {
		return CodeInfo{}, gone
	}
	now := g.clock()
	var info CodeInfo
	var res ratelimit.Result
	var wait, pause time.Duration
	err := g.store.InTx(ctx, func(tx Tx) error {
		r, err := tx.Registration(ctx, id)
		if err != nil {
			return err
		}
		if r.Channel != outbox.SMS || !r.CompletedAt.IsZero() || !now.Before(r.ExpiresAt) {
			return kilt.ErrNotFound
		}
		if wait = g.codeInfo(r, now).ResendAfter; wait > 0 {
			return nil
		}
		if pause, err = g.paused(ctx, tx, g.failureKey(r.Identifier), now); err != nil || pause > 0 {
			return err
		}
		if res, err = tx.Take(ctx, ratelimit.ClientChecks(g.cfg.PerIP, c.IP), now); err != nil || !res.Allowed {
			return err
		}
		// The number's SMS limits are taken before the registration changes: what changes
		// depends on them.
		refused, err := g.takeSMS(ctx, tx, kilt.KeyedHash(g.keys, "p:"+r.Identifier), now)
		if err != nil {
			return err
		}
		r.Attempts, r.ExpiresAt, r.CodeMAC = 0, now.Add(g.cfg.CodeLifetime), nil
		info = g.codeInfo(r, now)
		if refused != "" {
			// Nothing is sent, and the answer, the cool-down and the attempts are those of a
			// code sent: the number's SMS limits are shared with recovery, which spends them
			// only on numbers that have an account, so that any other answer would tell the
			// registrant whether the number has one. No code is made: the old one is dead,
			// as after any resend, and the guesses that follow can only fail, each counted
			// for the number.
			return tx.UpdateRegistration(ctx, r)
		}
		msg := outbox.Message{Channel: outbox.SMS, Lang: r.Lang, To: r.Identifier, CreatedAt: now}
		if c.Lang != "" {
			msg.Lang = c.Lang
		}
		if r.Duplicate {
			a, err := tx.AccountByPhone(ctx, r.Identifier)
			if err != nil {
				return err
			}
			msg.Kind, msg.To, msg.AccountID = outbox.AlreadyRegistered, a.Phone, a.ID
			msg.SetPayload(outbox.AlreadyRegisteredPayload{RecoveryURL: g.cfg.RecoveryURL})
		} else {
			code, err := kilt.NewCode()
			if err != nil {
				return err
			}
			r.CodeMAC = kilt.CodeMAC(g.codeKey, r.ID, code)
			msg.Kind = outbox.RegistrationCode
			msg.SetPayload(outbox.CodePayload{Code: code, Lifetime: g.cfg.CodeLifetime})
		}
		if err := tx.UpdateRegistration(ctx, r); err != nil {
			return err
		}
		return tx.Enqueue(ctx, &msg)
	})
	switch {
	case errors.Is(err, kilt.ErrNotFound), kilt.ErrorKind(err) == kilt.KindConflict:
		return CodeInfo{}, gone
	case err != nil:
		return CodeInfo{}, err
	case wait > 0:
		return CodeInfo{}, kilt.E(kilt.KindRateLimited, CodeResendTooSoon).WithRetryAfter(wait).
			WithDetails("resend_after", int((wait+time.Second-1)/time.Second))
	case pause > 0:
		return CodeInfo{}, codesPaused(pause)
	case !res.Allowed:
		g.refused(res)
		return CodeInfo{}, kilt.E(kilt.KindRateLimited, CodeRateLimited).WithRetryAfter(res.RetryAfter)
	}
	return info, nil
}
