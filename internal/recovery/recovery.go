// Package recovery is the portal manual's two ways back into an account — a link by e-mail
// and a code by SMS — and the reset of the password that ends both.
//
// A request never says whether the identifier has an account. The request path does the
// same work for every identifier: it applies the limits of the client's IP and of the
// identifier (known or not) and records the request; a Processor resolves recorded requests
// in the background, where an unknown identifier simply gets nothing and a known one gets a
// link or a code through the outbox. So answers and their timing are the same by
// construction, not by padding.
//
// Secrets: a link token is 32 random bytes of which only the SHA-256 is stored; an SMS code
// is 6 uniform random digits of which only an HMAC (keyed by the server secret, bound to its
// flow) is stored. A token or code works once, within its lifetime, for the account and
// purpose it was made for; a newer link kills older unused ones, a newer code the older code.
// A code allows 5 wrong entries; wrong entries across codes count for the number (a keyed
// hash of it, with or without an account), and 10 in 24 hours end every live flow of the
// number, refuse codes for it, and pause the SMS channel of its account for 24 hours. A
// correct code yields a reset token that can
// only set the password, for 15 minutes. Setting the password (package account) consumes the
// token in the same transaction, kills every other link and code of the account, ends every
// session and notifies every verified channel.
package recovery

import (
	"context"
	"time"

	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
)

// Error codes of recovery. A wrong or malformed code, and a limit, answer with the codes of
// package account (account.CodeCodeInvalid, account.CodeCodeFormat, account.CodeRateLimited):
// one code, one meaning.
const (
	CodeLinkInvalid   = account.CodeLinkInvalid // invalid, expired and used links alike
	CodeFlowGone      = "flow_gone"             // the phone flow ended (expired, code used up, paused)
	CodeCodeExpired   = "code_expired"
	CodeResendTooSoon = "resend_too_soon"
)

// Purposes of tokens.
const (
	PurposeLink  = "reset_link"  // the e-mail link
	PurposePhone = "reset_phone" // issued by a correct SMS code
)

// Client describes who made a request.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
}

// Request is a recovery request waiting to be resolved.
type Request struct {
	ID      int64
	Channel outbox.Channel
	// Identifier is the normalised e-mail address or E.164 number.
	Identifier string
	// FlowID is the phone flow the request belongs to ("" for e-mail).
	FlowID    string
	Lang      string
	IP        string
	UserAgent string
	CreatedAt time.Time
}

// Flow is a phone recovery flow.
type Flow struct {
	ID        string
	AccountID int64 // 0: no account — the flow can never succeed
	// Identifier is the E.164 number the flow was asked for (resends go to it).
	Identifier    string
	Lang          string
	CodeMAC       []byte // nil: no live code
	CodeExpiresAt time.Time
	Attempts      int
	LastRequestAt time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Limits are the rates of recovery (docs/security.md, "Rate limits"), each configurable; a
// zero Count switches one off.
type Limits struct {
	// Request path: whether or not the identifier has an account.
	PerIP         ratelimit.Limit
	PerIdentifier ratelimit.Limit
	// VerifyPerIP bounds the codes one client may try, whatever the flows.
	VerifyPerIP ratelimit.Limit
	// VerifyPerNumber bounds the codes tried for one number, whatever the flows and
	// clients. Taking it also serializes the checks of one number (the limit's row is
	// locked until the check commits), so that the count of wrong codes that pauses the
	// number is exact under parallel guesses; it cannot be switched off.
	VerifyPerNumber ratelimit.Limit
	// Resolution: only for identifiers that have an account; over them nothing is sent and
	// the answer is the same.
	PerAccount    ratelimit.Limit
	SMSNumberHour ratelimit.Limit
	SMSNumberDay  ratelimit.Limit
}

// DefaultLimits are: 30 requests an hour per IP, 5 an hour per identifier, 5 an hour per
// account, 150 code checks an hour per IP and 30 per number, and SMS at most 5 an hour and 10 a day per number.
func DefaultLimits() Limits {
	return Limits{
		PerIP:           ratelimit.Limit{Name: "recovery_ip", Count: 30, Period: time.Hour},
		VerifyPerIP:     ratelimit.Limit{Name: "recovery_verify_ip", Count: 150, Period: time.Hour},
		VerifyPerNumber: ratelimit.Limit{Name: "recovery_verify_number", Count: 30, Period: time.Hour},
		PerIdentifier:   ratelimit.Limit{Name: "recovery_identifier", Count: 5, Period: time.Hour},
		PerAccount:      ratelimit.Limit{Name: "recovery_account", Count: 5, Period: time.Hour},
		SMSNumberHour:   ratelimit.Limit{Name: "sms_number_hour", Count: 5, Period: time.Hour},
		SMSNumberDay:    ratelimit.Limit{Name: "sms_number_day", Count: 10, Period: 24 * time.Hour},
	}
}

// Config holds the lifetimes and limits of recovery.
type Config struct {
	LinkLifetime   time.Duration // 30 min
	CodeLifetime   time.Duration // 5 min
	ResetLifetime  time.Duration // 15 min: after a correct code, to set the password
	FlowLifetime   time.Duration // 30 min: a phone flow, resends included
	ResendCooldown time.Duration // 60 s
	CodeAttempts   int           // 5 wrong entries kill a code
	// AccountFailures wrong codes within FailureWindow pause the account's SMS channel for
	// PauseFor.
	AccountFailures int           // 10
	FailureWindow   time.Duration // 24 h
	PauseFor        time.Duration // 24 h
	// ResetURL is where links point: BASE_URL/recovery/reset.
	ResetURL string
	// RecoveryURL is the recovery page, named in "already registered" messages.
	RecoveryURL string
	Limits      Limits
	// Secret is the server secret; the code key is derived from it.
	Secret []byte
	// OnLimit, when set, is told the name of every limit that refused something (metrics).
	OnLimit func(name string)
	// OnFlow, when set, is told of flows started and completed ("recovery", channel,
	// "started"|"completed") and of wrong codes ("recovery", "sms", "code_failed").
	OnFlow func(flow, channel, event string)
}

func (c Config) flow(channel, event string) {
	if c.OnFlow != nil {
		c.OnFlow("recovery", channel, event)
	}
}

// refused tells cfg.OnLimit of the limits that refused.
func (c Config) refused(res ratelimit.Result) {
	if c.OnLimit == nil {
		return
	}
	for _, n := range res.Refused {
		c.OnLimit(n)
	}
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.LinkLifetime, 30*time.Minute)
	def(&c.CodeLifetime, 5*time.Minute)
	def(&c.ResetLifetime, 15*time.Minute)
	def(&c.FlowLifetime, 30*time.Minute)
	def(&c.ResendCooldown, time.Minute)
	def(&c.FailureWindow, 24*time.Hour)
	def(&c.PauseFor, 24*time.Hour)
	if c.CodeAttempts <= 0 {
		c.CodeAttempts = 5
	}
	if c.AccountFailures <= 0 {
		c.AccountFailures = 10
	}
	if c.Limits == (Limits{}) {
		c.Limits = DefaultLimits()
	}
	if !c.Limits.VerifyPerNumber.Enabled() {
		c.Limits.VerifyPerNumber = DefaultLimits().VerifyPerNumber
	}
	return c
}

// Token is a single-use token: an e-mail link's, or the reset token a correct code gives.
// Only its SHA-256 is kept.
type Token struct {
	Hash      []byte
	AccountID int64
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: unused
}

// live reports whether t can still be used at now.
func (t Token) live(now time.Time) bool { return t.UsedAt.IsZero() && now.Before(t.ExpiresAt) }

// Store is recovery's port to storage: one transaction at a time.
type Store interface {
	// InTx runs fn in a transaction: committed if fn returns nil, rolled back otherwise.
	InTx(ctx context.Context, fn func(tx Tx) error) error
}

// Tx is what a transaction offers: row operations, no rules. Reads of a single row return
// kilt.ErrNotFound when there is none; Flow locks the row it returns until the end of the
// transaction.
type Tx interface {
	// Take applies rate-limit checks, all or nothing.
	Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error)

	InsertRequest(ctx context.Context, r Request) error
	// Requests returns up to limit recorded requests, oldest first. Concurrent transactions
	// never get the same request (PostgreSQL: SKIP LOCKED; SQLite: one writer).
	Requests(ctx context.Context, limit int) ([]Request, error)
	DeleteRequest(ctx context.Context, id int64) error
	// DeleteRequests deletes the requests of ids in one statement.
	DeleteRequests(ctx context.Context, ids []int64) error

	InsertFlow(ctx context.Context, f Flow) error
	Flow(ctx context.Context, id string) (Flow, error)
	// FlowNumber returns the number of a flow without locking the flow.
	FlowNumber(ctx context.Context, id string) (string, error)
	// UpdateFlow stores every field of f but ID, Identifier and CreatedAt.
	UpdateFlow(ctx context.Context, f Flow) error
	// EndFlows ends every live flow of the number: no code, expired at now.
	EndFlows(ctx context.Context, identifier string, now time.Time) error

	AccountByEmail(ctx context.Context, key string) (*account.Account, error)
	AccountByPhone(ctx context.Context, e164 string) (*account.Account, error)
	// PauseSMS sets the account's SMS pause.
	PauseSMS(ctx context.Context, accountID int64, until time.Time) error

	InsertToken(ctx context.Context, t Token) error
	// Token returns the token with that hash, used or expired alike.
	Token(ctx context.Context, hash []byte) (Token, error)
	// UseTokens marks the account's unused tokens of a purpose used at now.
	UseTokens(ctx context.Context, accountID int64, purpose string, now time.Time) error

	// AddCodeFailure records a wrong code under key (a keyed hash of the number).
	AddCodeFailure(ctx context.Context, key string, accountID int64, at time.Time) error
	// CodeFailures counts the failures of key after since.
	CodeFailures(ctx context.Context, key string, since time.Time) (int, error)
	// PruneCodeFailures deletes the failures of key at or before before.
	PruneCodeFailures(ctx context.Context, key string, before time.Time) error

	Enqueue(ctx context.Context, m *outbox.Message) error
	Audit(ctx context.Context, e audit.Event) error
	// Audits records es, in order, in a few statements however many there are.
	Audits(ctx context.Context, es []audit.Event) error
}
