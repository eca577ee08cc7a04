package desk

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
	"kilt/internal/session"
)

// Config is what the desk needs to know.
type Config struct {
	// Secret is the server secret; the desk derives its keys from it.
	Secret []byte
	// Issuer names the service in authenticator apps ("Kilt").
	Issuer string
	// Lookup limits look-ups per operator (default 60 per hour).
	Lookup ratelimit.Limit
	// SessionIdle and SessionLifetime bound console sessions (15 min, 8 h).
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// SlipLifetime is how long a slip code lives (24 h); ResetLifetime how long the reset
	// token it gives may set the password (15 min).
	SlipLifetime  time.Duration
	ResetLifetime time.Duration
	// SlipFailures wrong slip codes per IP in SlipWindow make the next entries 429 (5 per hour).
	SlipFailures int
	SlipWindow   time.Duration
	// RecoveryURL is the recovery page the channel notices point to.
	RecoveryURL string
	// FreezeURL is BASE_URL/freeze: the channel notices carry a freeze link (SPEC §9).
	FreezeURL string
	// Wake is told when a notice was queued (the outbox dispatcher); nil: none.
	Wake outbox.Waker
	// OnLookup, OnAction and OnSignInFailed feed the metrics; nil: none.
	OnLookup       func()
	OnAction       func(kind string)
	OnSignInFailed func(reason string)
}

func (c Config) withDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = "Kilt"
	}
	if !c.Lookup.Enabled() {
		c.Lookup = ratelimit.Limit{Name: "operator_lookup", Count: 60, Period: time.Hour}
	}
	if c.Lookup.Name == "" {
		c.Lookup.Name = "operator_lookup"
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 15 * time.Minute
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = 8 * time.Hour
	}
	if c.SlipLifetime <= 0 {
		c.SlipLifetime = 24 * time.Hour
	}
	if c.ResetLifetime <= 0 {
		c.ResetLifetime = 15 * time.Minute
	}
	if c.SlipFailures <= 0 {
		c.SlipFailures = 5
	}
	if c.SlipWindow <= 0 {
		c.SlipWindow = time.Hour
	}
	if c.OnLookup == nil {
		c.OnLookup = func() {}
	}
	if c.OnAction == nil {
		c.OnAction = func(string) {}
	}
	if c.OnSignInFailed == nil {
		c.OnSignInFailed = func(string) {}
	}
	return c
}

// Service runs the desk.
type Service struct {
	port     Port
	accounts *account.Service
	sessions *session.Service
	clock    kilt.Clock
	cfg      Config
	seal     sealer
	backup   []byte // keys backup-code MACs
	slipKey  []byte // keys slip-code MACs
	ipKey    []byte // keys the hashed IPs of slip failures
	idKey    []byte // keys the slow-down key of identifiers that name no account
}

// NewService returns a Service.
func NewService(port Port, accounts *account.Service, sessions *session.Service, clock kilt.Clock, cfg Config) *Service {
	return &Service{port: port, accounts: accounts, sessions: sessions, clock: clock, cfg: cfg.withDefaults(),
		seal:    newSealer(kilt.DeriveKey(cfg.Secret, "totp-secret")),
		backup:  kilt.DeriveKey(cfg.Secret, "backup-code"),
		slipKey: kilt.DeriveKey(cfg.Secret, "desk-code"),
		ipKey:   kilt.DeriveKey(cfg.Secret, "desk-ip"),
		idKey:   kilt.DeriveKey(cfg.Secret, "desk-factor"),
	}
}

// Config returns the configuration in force.
func (s *Service) Config() Config { return s.cfg }

// findAccount finds the account an identifier names, or kilt.ErrNotFound.
func (s *Service) findAccount(ctx context.Context, tx Tx, id account.Identifier) (*account.Account, error) {
	if id.Kind == account.Email {
		return tx.AccountByEmailKey(ctx, id.Key())
	}
	return tx.AccountByPhone(ctx, id.Value)
}

// AddOperator gives the account an identifier names the role (or changes its role).
func (s *Service) AddOperator(ctx context.Context, identifier string, role Role) (*account.Account, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	id, err := s.accounts.ParseIdentifier(identifier)
	if err != nil {
		return nil, err
	}
	var a *account.Account
	err = s.port.InTx(ctx, func(tx Tx) error {
		if a, err = s.findAccount(ctx, tx, id); err != nil {
			return err
		}
		now := s.clock()
		op, err := tx.Operator(ctx, a.ID)
		if errors.Is(err, kilt.ErrNotFound) {
			op, err = &Operator{AccountID: a.ID, CreatedAt: now}, nil
		}
		if err != nil {
			return err
		}
		op.Role = role
		if err := tx.SaveOperator(ctx, op); err != nil {
			return err
		}
		return tx.Record(ctx, Event{At: now, Type: EventOperatorAdded, AccountID: a.ID, Detail: "role " + string(role) + " (kilt operator add)"})
	})
	return a, err
}

// RemoveOperator takes the role away: the operator's console sessions end, its second
// factor and backup codes are forgotten.
func (s *Service) RemoveOperator(ctx context.Context, identifier string) (*account.Account, error) {
	id, err := s.accounts.ParseIdentifier(identifier)
	if err != nil {
		return nil, err
	}
	var a *account.Account
	err = s.port.InTx(ctx, func(tx Tx) error {
		if a, err = s.findAccount(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Operator(ctx, a.ID); err != nil {
			if errors.Is(err, kilt.ErrNotFound) {
				return kilt.E(kilt.KindNotFound, CodeNotOperator)
			}
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, a.ID); err != nil {
			return err
		}
		if err := tx.DeleteOperator(ctx, a.ID); err != nil {
			return err
		}
		return tx.Record(ctx, Event{At: s.clock(), Type: EventOperatorRemoved, AccountID: a.ID, Detail: "kilt operator remove"})
	})
	return a, err
}

// Operators lists every operator.
func (s *Service) Operators(ctx context.Context) ([]Listing, error) {
	var out []Listing
	err := s.port.InTx(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Operators(ctx)
		return err
	})
	return out, err
}

// Principal is a signed-in operator.
type Principal struct {
	Operator Operator
	Session  Session
}

// IsAdmin reports whether the operator has the admin role.
func (p *Principal) IsAdmin() bool { return p.Operator.Role == RoleAdmin }

// Enrolment is what the first console sign-in shows: the secret to add to an
// authenticator app (as a QR code of URI and as base32 text) and the ticket that binds the
// confirming code to this sign-in.
type Enrolment struct {
	Ticket string
	Secret string
	URI    string
}

// SignInResult is a console sign-in: either a session token, or an enrolment to confirm.
type SignInResult struct {
	Token     string
	Enrolment *Enrolment
}

// enrolLifetime bounds how long an enrolment may wait for its confirming code.
const enrolLifetime = 10 * time.Minute

// factorKey is the slow-down key of the console's second factor for the account the
// identifier names (or a keyed hash of the identifier when it names none).
func (s *Service) factorKey(a *account.Account, id account.Identifier) string {
	if a != nil {
		return "f:" + strconv.FormatInt(a.ID, 10)
	}
	return "fi:" + kilt.KeyedHash(s.idKey, id.Key())
}

// SignIn checks a password and a second factor. Every failure is 401 invalid_credentials,
// totp_required or totp_invalid (an account that is no operator answers as a wrong password
// does); an operator without a second factor gets an enrolment instead of a token. Second
// factor attempts are counted before they are checked, under a slow-down key of the
// account's own that only a success clears, so guessing codes slows down like guessing
// passwords.
func (s *Service) SignIn(ctx context.Context, c Client, identifier, password, code string) (*SignInResult, error) {
	id, err := s.accounts.ParseIdentifier(identifier)
	if err != nil {
		return nil, err
	}
	var known *account.Account
	if err := s.port.InTx(ctx, func(tx Tx) error {
		a, err := s.findAccount(ctx, tx, id)
		if err == nil {
			known = a
		}
		if errors.Is(err, kilt.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return nil, err
	}
	fkey := s.factorKey(known, id)
	if err := s.accounts.CountAttempt(ctx, fkey); err != nil {
		s.cfg.OnSignInFailed("throttled")
		return nil, err
	}
	a, err := s.checkPassword(ctx, c, identifier, password)
	if err != nil {
		s.cfg.OnSignInFailed("password")
		return nil, err
	}
	var res *SignInResult
	var failed string
	err = s.port.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		op, err := tx.Operator(ctx, a.ID)
		if errors.Is(err, kilt.ErrNotFound) {
			failed = "not_operator"
			return kilt.E(kilt.KindUnauthorized, CodeInvalidCredentials)
		}
		if err != nil {
			return err
		}
		if !op.Enrolled() {
			e, err := s.beginEnrolment(ctx, tx, op, a, now)
			if err != nil {
				return err
			}
			res = &SignInResult{Enrolment: e}
			return nil
		}
		if strings.TrimSpace(code) == "" {
			failed = "totp_missing"
			return kilt.E(kilt.KindUnauthorized, CodeTOTPRequired)
		}
		ok, err := s.checkFactor(ctx, tx, op, code, now)
		if err != nil {
			return err
		}
		if !ok {
			failed = "totp"
			return kilt.E(kilt.KindUnauthorized, CodeTOTPInvalid)
		}
		token, err := s.startSession(ctx, tx, a.ID, c, now)
		if err != nil {
			return err
		}
		res = &SignInResult{Token: token}
		return nil
	})
	if failed != "" {
		s.cfg.OnSignInFailed(failed)
		// A refusal is recorded in its own transaction: the one that failed rolled back.
		_ = s.port.InTx(ctx, func(tx Tx) error {
			return tx.Record(ctx, Event{At: s.clock(), Type: EventConsoleSignInFail, AccountID: a.ID, IP: c.IP,
				UserAgent: c.UserAgent, Detail: failed})
		})
	}
	if err != nil {
		return nil, err
	}
	if res.Token != "" {
		if err := s.accounts.ClearAttempts(ctx, fkey); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// checkPassword checks the password the way citizens' sign-in does — the same slow-down,
// per-IP limit, hashing pool, dummy hash for unknown identifiers and answers — without
// starting a citizen session (session.Service.CheckPassword): the console's session is of
// its own kind.
func (s *Service) checkPassword(ctx context.Context, c Client, identifier, password string) (*account.Account, error) {
	return s.sessions.CheckPassword(ctx, identifier, password, session.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang})
}

// checkFactor accepts a TOTP code of the current step ±1 that is later than the last one
// accepted (and records its step: each code works once), or an unused backup code (and
// marks it used).
func (s *Service) checkFactor(ctx context.Context, tx Tx, op *Operator, code string, now time.Time) (bool, error) {
	code = strings.TrimSpace(code)
	if kilt.WellFormedCode(code) {
		secret, err := s.seal.open(op.AccountID, op.TOTPSecret)
		if err != nil {
			return false, err
		}
		step, ok := matchStep(secret, code, now, op.LastStep)
		if !ok {
			return false, nil
		}
		op.LastStep = step
		return true, tx.SaveOperator(ctx, op)
	}
	norm, ok := normalizeCode(code, backupLen)
	if !ok {
		return false, nil
	}
	return tx.UseBackupCode(ctx, op.AccountID, mac(s.backup, strconv.FormatInt(op.AccountID, 10), norm), now)
}

// backupLen is the length of a backup code (10 symbols, 48 bits); there are ten.
const (
	backupLen   = 10
	backupCount = 10
)

// beginEnrolment makes a new pending secret and ticket for op.
func (s *Service) beginEnrolment(ctx context.Context, tx Tx, op *Operator, a *account.Account, now time.Time) (*Enrolment, error) {
	name := a.Email
	if name == "" {
		name = a.Phone
	}
	secret, uri, err := newTOTPKey(s.cfg.Issuer, name)
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(op.AccountID, secret)
	if err != nil {
		return nil, err
	}
	ticket, hash, err := kilt.NewToken()
	if err != nil {
		return nil, err
	}
	op.PendingSecret, op.EnrolTicketHash, op.EnrolExpiresAt = sealed, hash, now.Add(enrolLifetime)
	if err := tx.SaveOperator(ctx, op); err != nil {
		return nil, err
	}
	return &Enrolment{Ticket: ticket, Secret: secret, URI: uri}, nil
}

// Enrolled is a confirmed enrolment: the console session and the ten backup codes, shown
// once.
type Enrolled struct {
	Token       string
	BackupCodes []string
}

// ConfirmEnrolment confirms an enrolment with a code of the new secret: the secret becomes
// the operator's, ten backup codes are made (only their MACs kept) and a console session
// starts. A wrong code counts toward the slow-down and leaves the enrolment open; an
// unknown or expired ticket is 410 enrolment_gone.
func (s *Service) ConfirmEnrolment(ctx context.Context, c Client, ticket, code string) (*Enrolled, error) {
	gone := kilt.E(kilt.KindGone, CodeEnrolmentGone)
	if !kilt.WellFormedToken(ticket) {
		return nil, gone
	}
	var op *Operator
	if err := s.port.InTx(ctx, func(tx Tx) error {
		var err error
		op, err = tx.OperatorByTicket(ctx, kilt.HashToken(ticket))
		return err
	}); errors.Is(err, kilt.ErrNotFound) {
		return nil, gone
	} else if err != nil {
		return nil, err
	}
	fkey := "f:" + strconv.FormatInt(op.AccountID, 10)
	if err := s.accounts.CountAttempt(ctx, fkey); err != nil {
		return nil, err
	}
	var out *Enrolled
	wrong := false
	err := s.port.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		op, err := tx.OperatorByTicket(ctx, kilt.HashToken(ticket))
		if errors.Is(err, kilt.ErrNotFound) {
			return gone
		}
		if err != nil {
			return err
		}
		if !now.Before(op.EnrolExpiresAt) || len(op.PendingSecret) == 0 {
			return gone
		}
		secret, err := s.seal.open(op.AccountID, op.PendingSecret)
		if err != nil {
			return err
		}
		step, ok := matchStep(secret, strings.TrimSpace(code), now, 0)
		if !kilt.WellFormedCode(strings.TrimSpace(code)) || !ok {
			wrong = true
			return kilt.E(kilt.KindUnauthorized, CodeTOTPInvalid)
		}
		op.TOTPSecret, op.LastStep = op.PendingSecret, step
		op.PendingSecret, op.EnrolTicketHash, op.EnrolExpiresAt = nil, nil, time.Time{}
		if err := tx.SaveOperator(ctx, op); err != nil {
			return err
		}
		codes, err := s.newBackupCodes(ctx, tx, op.AccountID, now)
		if err != nil {
			return err
		}
		token, err := s.startSession(ctx, tx, op.AccountID, c, now)
		if err != nil {
			return err
		}
		if err := tx.Record(ctx, Event{At: now, Type: EventEnrolled, AccountID: op.AccountID, IP: c.IP, UserAgent: c.UserAgent}); err != nil {
			return err
		}
		out = &Enrolled{Token: token, BackupCodes: codes}
		return nil
	})
	if wrong {
		s.cfg.OnSignInFailed("totp")
	}
	if err != nil {
		return nil, err
	}
	return out, s.accounts.ClearAttempts(ctx, fkey)
}

// newBackupCodes replaces the account's backup codes with ten new ones and returns them,
// grouped for reading.
func (s *Service) newBackupCodes(ctx context.Context, tx Tx, accountID int64, now time.Time) ([]string, error) {
	codes := make([]string, backupCount)
	macs := make([][]byte, backupCount)
	for i := range codes {
		c, err := randomCode(backupLen)
		if err != nil {
			return nil, err
		}
		codes[i] = group(c, 5)
		macs[i] = mac(s.backup, strconv.FormatInt(accountID, 10), c)
	}
	return codes, tx.ReplaceBackupCodes(ctx, accountID, macs, now)
}

// startSession creates a console session and records the sign-in.
func (s *Service) startSession(ctx context.Context, tx Tx, accountID int64, c Client, now time.Time) (string, error) {
	token, hash, err := kilt.NewToken()
	if err != nil {
		return "", err
	}
	sess := &Session{AccountID: accountID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.SessionLifetime),
		IP: c.IP, UserAgent: kilt.Truncate(c.UserAgent, 512)}
	if err := tx.CreateSession(ctx, sess, hash); err != nil {
		return "", err
	}
	return token, tx.Record(ctx, Event{At: now, Type: EventConsoleSignIn, AccountID: accountID, OperatorID: accountID,
		IP: c.IP, UserAgent: c.UserAgent})
}

// Authenticate returns the operator a console token names. A malformed, unknown, idle or
// expired token, or one of an account that is no longer an operator, is 401
// console_unauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	unauth := kilt.E(kilt.KindUnauthorized, CodeConsoleUnauthorized)
	if !kilt.WellFormedToken(token) {
		return nil, unauth
	}
	var p *Principal
	err := s.port.InTx(ctx, func(tx Tx) error {
		sess, err := tx.SessionByHash(ctx, kilt.HashToken(token))
		if errors.Is(err, kilt.ErrNotFound) {
			return unauth
		}
		if err != nil {
			return err
		}
		now := s.clock()
		if !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.SessionIdle)) {
			if err := tx.DeleteSession(ctx, sess.ID); err != nil {
				return err
			}
			p = nil
			return nil
		}
		op, err := tx.Operator(ctx, sess.AccountID)
		if errors.Is(err, kilt.ErrNotFound) || err == nil && !op.Enrolled() {
			return unauth
		}
		if err != nil {
			return err
		}
		// A locked operator's console closes at once, like a locked citizen's pages.
		if a, err := tx.AccountByID(ctx, sess.AccountID); err != nil || a.Locked {
			if err != nil && !errors.Is(err, kilt.ErrNotFound) {
				return err
			}
			return unauth
		}
		if now.Sub(sess.LastSeenAt) >= time.Minute {
			if err := tx.TouchSession(ctx, sess.ID, now); err != nil {
				return err
			}
			sess.LastSeenAt = now
		}
		p = &Principal{Operator: *op, Session: *sess}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, unauth
	}
	return p, nil
}

// SignOut ends the console session.
func (s *Service) SignOut(ctx context.Context, p *Principal) error {
	return s.port.InTx(ctx, func(tx Tx) error { return tx.DeleteSession(ctx, p.Session.ID) })
}

// AccountView is an account as the console shows it: channels masked.
type AccountView struct {
	ID            int64     `json:"id"`
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"email_verified"`
	Phone         string    `json:"phone,omitempty"`
	PhoneVerified bool      `json:"phone_verified"`
	CreatedAt     time.Time `json:"created_at"`
	// LastSignIn is nil when the account never signed in.
	LastSignIn *time.Time `json:"last_sign_in"`
	Locked     bool       `json:"locked"`
	// Frozen: "this wasn't me" froze it (SPEC §9).
	Frozen bool `json:"frozen"`
	// DeletionAt is when the account's pending deletion erases it (nil: none pending).
	DeletionAt   *time.Time `json:"deletion_at"`
	SessionCount int        `json:"sessions"`
	Recent       []Event    `json:"recent_audit"`
}

// recentEvents is how much of an account's trail the look-up shows.
const recentEvents = 20

func (s *Service) view(ctx context.Context, tx Tx, a *account.Account) (*AccountView, error) {
	v := &AccountView{ID: a.ID, EmailVerified: a.EmailVerified, PhoneVerified: a.PhoneVerified, CreatedAt: a.CreatedAt, Locked: a.Locked,
		Frozen: a.Frozen()}
	if a.Email != "" {
		v.Email = account.Identifier{Kind: account.Email, Value: a.Email}.Mask()
	}
	if a.Phone != "" {
		v.Phone = account.Identifier{Kind: account.Phone, Value: a.Phone}.Mask()
	}
	var err error
	if v.SessionCount, err = tx.SessionCount(ctx, a.ID); err != nil {
		return nil, err
	}
	last, err := tx.LastSignIn(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if !last.IsZero() {
		v.LastSignIn = &last
	}
	due, err := tx.DeletionDue(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if !due.IsZero() {
		v.DeletionAt = &due
	}
	if v.Recent, err = tx.Recent(ctx, a.ID, recentEvents); err != nil {
		return nil, err
	}
	for i := range v.Recent {
		v.Recent[i].UserAgent = "" // enough to see what happened; the console is no tracker
	}
	return v, nil
}

// Lookup finds the account an exact identifier names: no listing, no wildcards, at most
// the configured number per operator (429 lookup_limited beyond). Every look-up is
// audited with the operator's id, found or not (404).
func (s *Service) Lookup(ctx context.Context, p *Principal, c Client, identifier string) (*AccountView, error) {
	id, err := s.accounts.ParseIdentifier(identifier)
	if err != nil {
		return nil, err
	}
	var v *AccountView
	err = s.port.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		res, err := tx.Take(ctx, []ratelimit.Check{{Limit: s.cfg.Lookup, Key: strconv.FormatInt(p.Operator.AccountID, 10)}}, now)
		if err != nil {
			return err
		}
		if !res.Allowed {
			return kilt.E(kilt.KindRateLimited, CodeLookupLimited).WithRetryAfter(res.RetryAfter)
		}
		ev := Event{At: now, Type: EventLookup, OperatorID: p.Operator.AccountID, IP: c.IP, UserAgent: c.UserAgent}
		a, err := s.findAccount(ctx, tx, id)
		if errors.Is(err, kilt.ErrNotFound) {
			ev.Detail = "no account: " + id.Mask()
			if err := tx.Record(ctx, ev); err != nil {
				return err
			}
			v = nil
			return nil
		}
		if err != nil {
			return err
		}
		ev.AccountID = a.ID
		if err := tx.Record(ctx, ev); err != nil {
			return err
		}
		v, err = s.view(ctx, tx, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.cfg.OnLookup()
	if v == nil {
		return nil, kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	return v, nil
}

// Account returns the console's view of an account by id for the page that acts on it (see
// lookedUp); it is not a look-up and is not limited.
func (s *Service) Account(ctx context.Context, p *Principal, accountID int64) (*AccountView, error) {
	var v *AccountView
	err := s.port.InTx(ctx, func(tx Tx) error {
		a, err := s.lookedUp(ctx, tx, p, accountID)
		if err != nil {
			return err
		}
		v, err = s.view(ctx, tx, a)
		return err
	})
	return v, err
}

// lookedUp returns the account an operator acts on or sees by id: only one the operator
// looked up in this console session (p.Session; an EventLookup naming both since it began),
// otherwise kilt.ErrNotFound. Without the rule, asking for the page of every id in turn —
// or acting on it — would reach every account past the look-up limit, unaudited for a view.
func (s *Service) lookedUp(ctx context.Context, tx Tx, p *Principal, accountID int64) (*account.Account, error) {
	seen, err := tx.LookedUp(ctx, p.Operator.AccountID, accountID, p.Session.CreatedAt)
	if err != nil {
		return nil, err
	}
	if !seen {
		return nil, kilt.ErrNotFound
	}
	return tx.AccountByID(ctx, accountID)
}

// Action kinds.
const (
	ActionLock           = "lock"
	ActionUnlock         = "unlock"
	ActionRevokeSessions = "revoke-sessions"
)

// maxReason bounds a reason's length (runes).
const maxReason = 500

func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", kilt.E(kilt.KindInvalid, CodeReasonRequired)
	}
	if utf8.RuneCountInString(reason) > maxReason {
		return "", kilt.Errorf(kilt.KindInvalid, CodeReasonRequired, "a reason has at most %d characters", maxReason)
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, reason), nil
}

// Act applies an action to an account, with a reason, audited with the operator's id:
// lock (the account cannot sign in; every session, refresh token and unused slip code of
// it ends), unlock, revoke-sessions (every session and refresh token ends).
func (s *Service) Act(ctx context.Context, p *Principal, c Client, accountID int64, kind, reason string) error {
	reason, err := checkReason(reason)
	if err != nil {
		return err
	}
	switch kind {
	case ActionLock, ActionUnlock, ActionRevokeSessions:
	default:
		return kilt.Errorf(kilt.KindNotFound, kilt.CodeNotFound, "no action %q", kind)
	}
	err = s.port.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		a, err := s.lookedUp(ctx, tx, p, accountID)
		if err != nil {
			return err
		}
		ev := Event{At: now, AccountID: a.ID, OperatorID: p.Operator.AccountID, IP: c.IP, UserAgent: c.UserAgent}
		switch kind {
		case ActionLock:
			ev.Type = EventLock
			if err := tx.SetLocked(ctx, a.ID, true, now); err != nil {
				return err
			}
			if err := s.endEverything(ctx, tx, a.ID); err != nil {
				return err
			}
			if err := tx.KillSlips(ctx, a.ID, now); err != nil {
				return err
			}
			// As a lock from the command line: every link and code of the account dies for
			// good, so none issued before the lock works after an unlock.
			if err := tx.UseAllTokens(ctx, a.ID, now); err != nil {
				return err
			}
			if err := tx.EndAccountFlows(ctx, a.ID, now); err != nil {
				return err
			}
		case ActionUnlock:
			ev.Type = EventUnlock
			if err := tx.SetLocked(ctx, a.ID, false, now); err != nil {
				return err
			}
		case ActionRevokeSessions:
			ev.Type = EventRevokeSessions
			if err := s.endEverything(ctx, tx, a.ID); err != nil {
				return err
			}
		}
		ev.Detail = "by operator " + strconv.FormatInt(p.Operator.AccountID, 10) + ": " + reason
		return tx.Record(ctx, ev)
	})
	if err == nil {
		s.cfg.OnAction(kind)
	}
	return err
}

// endEverything ends the account's sessions (with every single sign-on token and a
// back-channel logout to each application that had one), its console sessions included
// when it is an operator.
func (s *Service) endEverything(ctx context.Context, tx Tx, accountID int64) error {
	_, err := s.sessions.EndAccount(ctx, tx, accountID, 0)
	return err
}

// Issued is a slip code as the operator prints it.
type Issued struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

func checkIdentity(checked bool) error {
	if !checked {
		return kilt.E(kilt.KindInvalid, CodeIdentityCheck)
	}
	return nil
}

// IssueSlip issues a one-time slip code for the account after an in-person identity check:
// 12 symbols without look-alikes, valid SlipLifetime, only its HMAC stored, killing the
// account's older unused slips. A locked account gets none (409 account_locked).
func (s *Service) IssueSlip(ctx context.Context, p *Principal, c Client, accountID int64, reason string, identityChecked bool) (*Issued, error) {
	if err := checkIdentity(identityChecked); err != nil {
		return nil, err
	}
	reason, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	code, err := randomCode(slipLen)
	if err != nil {
		return nil, err
	}
	var out *Issued
	err = s.port.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		a, err := s.lookedUp(ctx, tx, p, accountID)
		if err != nil {
			return err
		}
		if a.Locked {
			return kilt.E(kilt.KindConflict, session.CodeAccountLocked)
		}
		if err := tx.KillSlips(ctx, a.ID, now); err != nil {
			return err
		}
		sl := &Slip{AccountID: a.ID, OperatorID: p.Operator.AccountID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SlipLifetime)}
		if err := tx.InsertSlip(ctx, sl, mac(s.slipKey, code)); err != nil {
			return err
		}
		out = &Issued{Code: group(code, 4), ExpiresAt: sl.ExpiresAt}
		return tx.Record(ctx, Event{At: now, Type: EventRecoveryCodeIssued, AccountID: a.ID, OperatorID: p.Operator.AccountID,
			IP: c.IP, UserAgent: c.UserAgent, Detail: "by operator " + strconv.FormatInt(p.Operator.AccountID, 10) + ": " + reason})
	})
	if err != nil {
		return nil, err
	}
	s.cfg.OnAction("recovery-code")
	return out, nil
}

// slipLen is the length of a slip code.
const slipLen = 12

// RedeemSlip exchanges a slip code for a reset token that can only set the password, for
// ResetLifetime (the citizen's reset screen takes it). Used, expired, unknown codes and
// codes of a locked account are all 410 desk_code_invalid and count as wrong entries of the
// client's IP; SlipFailures of them in SlipWindow make every further entry from the IP 429
// desk_code_limited, checked before the code is looked at.
func (s *Service) RedeemSlip(ctx context.Context, c Client, raw string) (string, error) {
	token, hash, err := kilt.NewToken()
	if err != nil {
		return "", err
	}
	keys := s.clientKeys(c.IP)
	code, wellFormed := normalizeCode(raw, slipLen)
	bad := false
	err = s.port.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		for _, k := range keys {
			n, err := tx.SlipFailures(ctx, k.key, now.Add(-s.cfg.SlipWindow))
			if err != nil {
				return err
			}
			if n >= s.cfg.SlipFailures*k.factor {
				return kilt.E(kilt.KindRateLimited, CodeSlipLimited).WithRetryAfter(s.cfg.SlipWindow)
			}
		}
		invalid := func() error {
			bad = true
			for _, k := range keys {
				if err := tx.AddSlipFailure(ctx, k.key, now); err != nil {
					return err
				}
			}
			return nil
		}
		if !wellFormed {
			return invalid()
		}
		sl, err := tx.SlipByMAC(ctx, mac(s.slipKey, code))
		if errors.Is(err, kilt.ErrNotFound) {
			return invalid()
		}
		if err != nil {
			return err
		}
		if sl.UsedAt != nil || !now.Before(sl.ExpiresAt) {
			return invalid()
		}
		a, err := tx.AccountByID(ctx, sl.AccountID)
		if errors.Is(err, kilt.ErrNotFound) {
			return invalid()
		}
		if err != nil {
			return err
		}
		if a.Locked {
			return invalid()
		}
		used, err := tx.UseSlip(ctx, sl.ID, now)
		if err != nil {
			return err
		}
		if !used {
			return invalid()
		}
		if err := tx.IssueResetToken(ctx, a.ID, hash, now, now.Add(s.cfg.ResetLifetime)); err != nil {
			return err
		}
		return tx.Record(ctx, Event{At: now, Type: EventRecoveryCodeUsed, AccountID: a.ID, OperatorID: sl.OperatorID,
			IP: c.IP, UserAgent: c.UserAgent})
	})
	if err != nil {
		return "", err
	}
	if bad {
		return "", kilt.E(kilt.KindGone, CodeSlipInvalid)
	}
	return token, nil
}

// clientKey is a key wrong slip codes are counted under, and how many times SlipFailures
// it may reach.
type clientKey struct {
	key    string
	factor int
}

// clientKeys are the keys of a client's wrong slip codes, as keyed hashes (the table holds
// no IPs): the client as the per-IP limits see it (an IPv4 address, an IPv6 /64: picking a
// new address in one's /64 is free), and for IPv6 also its /48, allowed
// ratelimit.NetFactor times as many.
func (s *Service) clientKeys(ip string) []clientKey {
	keys := []clientKey{{kilt.KeyedHash(s.ipKey, ratelimit.ClientKey(ip)), 1}}
	if a, err := netip.ParseAddr(ip); err == nil && !a.Unmap().Is4() {
		net := netip.PrefixFrom(a.WithZone(""), 48).Masked().String()
		keys = append(keys, clientKey{kilt.KeyedHash(s.ipKey, net), ratelimit.NetFactor})
	}
	return keys
}

// Channel kinds of SetChannel.
const (
	ChannelEmail = "email"
	ChannelPhone = "phone"
)

// SetChannel sets a verified e-mail address or phone number on the account after an
// in-person identity check, with a reason. The account's previous verified channels get a
// notice. An identifier that belongs to another account is 409 identifier_taken.
func (s *Service) SetChannel(ctx context.Context, p *Principal, c Client, accountID int64, kind, value, reason string, identityChecked bool) (*AccountView, error) {
	if err := checkIdentity(identityChecked); err != nil {
		return nil, err
	}
	reason, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	var email, phone string
	switch kind {
	case ChannelEmail:
		if email, err = account.ParseEmail(value); err != nil {
			return nil, err
		}
	case ChannelPhone:
		if phone, err = s.accounts.ParsePhone(value); err != nil {
			return nil, err
		}
	default:
		return nil, kilt.E(kilt.KindNotFound, CodeChannelInvalid)
	}
	changeID, err := kilt.NewID()
	if err != nil {
		return nil, err
	}
	var v *AccountView
	err = s.port.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		a, err := s.lookedUp(ctx, tx, p, accountID)
		if err != nil {
			return err
		}
		// The notice goes to what the account had before the change.
		notices, err := s.channelNotices(ctx, tx, a, now)
		if err != nil {
			return err
		}
		for _, m := range notices {
			if err := tx.Enqueue(ctx, &m); err != nil {
				return err
			}
		}
		// The change is recorded as a citizen's is: a freeze from the notice reverts it (an
		// operator fooled by a forged document is what the notice's freeze link is for).
		change := account.ChannelChange{ID: changeID, AccountID: a.ID, Kind: account.ChannelEmail, Value: email,
			OldValue: a.Email, OldVerified: a.EmailVerified, CreatedAt: now, SentAt: now, CompletedAt: now,
			ExpiresAt: now.Add(account.RevertWindow)}
		if kind == ChannelEmail {
			err = tx.SetEmail(ctx, a.ID, email, account.EmailKey(email), now)
		} else {
			change.Kind, change.Value, change.OldValue, change.OldVerified = account.ChannelPhone, phone, a.Phone, a.PhoneVerified
			err = tx.SetPhone(ctx, a.ID, phone, now)
		}
		if err != nil {
			return err
		}
		// What was under way through the channel replaced — a link in the old mailbox, a
		// code on the old number: the lost phone or the hijacked mailbox the citizen came
		// about — ends, and so does a change of the citizen's own still pending, which
		// would otherwise replace the channel the operator just set.
		if err := account.EndRecoveries(ctx, tx, a.ID, change.Kind, now); err != nil {
			return err
		}
		if err := tx.EndChannelChanges(ctx, a.ID, now); err != nil {
			return err
		}
		if err := tx.InsertChannelChange(ctx, change); err != nil {
			return err
		}
		if err := tx.Record(ctx, Event{At: now, Type: EventChannelSet, AccountID: a.ID, OperatorID: p.Operator.AccountID,
			IP: c.IP, UserAgent: c.UserAgent,
			Detail: kind + " set by operator " + strconv.FormatInt(p.Operator.AccountID, 10) + ": " + reason}); err != nil {
			return err
		}
		if a, err = tx.AccountByID(ctx, accountID); err != nil {
			return err
		}
		v, err = s.view(ctx, tx, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.cfg.OnAction("channel-" + kind)
	if s.cfg.Wake != nil {
		s.cfg.Wake.Wake()
	}
	return v, nil
}

// channelNotices are the "a channel of your account was changed" notices to the account's
// verified channels before the change, each with the freeze link of the change.
func (s *Service) channelNotices(ctx context.Context, tx Tx, a *account.Account, now time.Time) ([]outbox.Message, error) {
	return account.SecurityNotices(ctx, tx, a, s.cfg.FreezeURL, account.Notice{Kind: outbox.ChannelChanged, Event: EventChannelSet, At: now,
		Payload: func(link string) outbox.Payload {
			return outbox.ChannelChangedPayload{Time: now, RecoveryURL: s.cfg.RecoveryURL, FreezeURL: link}
		}})
}

// maxExport bounds one export's period.
const maxExport = 366 * 24 * time.Hour

// Export streams the audit trail with from ≤ at < to, oldest first, to fn: admins only
// (403 admin_only for support).
func (s *Service) Export(ctx context.Context, p *Principal, from, to time.Time, fn func(Event) error) error {
	if err := RequireAdmin(p); err != nil {
		return err
	}
	if !from.Before(to) || to.Sub(from) > maxExport {
		return kilt.E(kilt.KindInvalid, CodePeriodInvalid)
	}
	var after int64
	for {
		var page []Event
		if err := s.port.InTx(ctx, func(tx Tx) error {
			var err error
			page, err = tx.Events(ctx, from, to, after, 500)
			return err
		}); err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
			after = e.ID
		}
		if len(page) < 500 {
			return nil
		}
	}
}

// OperatorActions returns what operators did in the last week, newest first, at most 500
// entries: admins only (403 admin_only for support).
func (s *Service) OperatorActions(ctx context.Context, p *Principal) ([]Event, error) {
	if err := RequireAdmin(p); err != nil {
		return nil, err
	}
	var out []Event
	err := s.port.InTx(ctx, func(tx Tx) error {
		var err error
		out, err = tx.OperatorEvents(ctx, s.clock().Add(-7*24*time.Hour), 500)
		return err
	})
	return out, err
}

// RequireAdmin is nil for an admin, else 403 admin_only.
func RequireAdmin(p *Principal) error {
	if p == nil || !p.IsAdmin() {
		return kilt.E(kilt.KindForbidden, CodeAdminOnly)
	}
	return nil
}

// PendingEnrolment shows again the enrolment a ticket binds (after a wrong confirming code
// the page shows the same QR code and key): 410 enrolment_gone once it has expired.
func (s *Service) PendingEnrolment(ctx context.Context, ticket string) (*Enrolment, error) {
	gone := kilt.E(kilt.KindGone, CodeEnrolmentGone)
	if !kilt.WellFormedToken(ticket) {
		return nil, gone
	}
	var e *Enrolment
	err := s.port.InTx(ctx, func(tx Tx) error {
		op, err := tx.OperatorByTicket(ctx, kilt.HashToken(ticket))
		if errors.Is(err, kilt.ErrNotFound) {
			return gone
		}
		if err != nil {
			return err
		}
		if !s.clock().Before(op.EnrolExpiresAt) || len(op.PendingSecret) == 0 {
			return gone
		}
		secret, err := s.seal.open(op.AccountID, op.PendingSecret)
		if err != nil {
			return err
		}
		a, err := tx.AccountByID(ctx, op.AccountID)
		if err != nil {
			return err
		}
		name := a.Email
		if name == "" {
			name = a.Phone
		}
		e = &Enrolment{Ticket: ticket, Secret: secret, URI: otpauthURI(s.cfg.Issuer, name, secret)}
		return nil
	})
	return e, err
}
