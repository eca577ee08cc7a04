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
// A code allows 5 wrong entries; wrong entries across codes count for the account, and 10 in
// 24 hours pause its SMS channel for 24 hours. A correct code yields a reset token that can
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

// Error codes of recovery.
const (
	CodeLinkInvalid   = "link_invalid" // invalid, expired and used links alike
	CodeFlowGone      = "flow_gone"    // the phone flow ended (expired, code used up)
	CodeWrongCode     = "code_invalid" // a wrong code, with details.attempts_left
	CodeResendTooSoon = "resend_too_soon"
	CodeRateLimited   = "rate_limited"
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

// Limits are the rates of SPEC §3, each configurable; a zero Count switches one off.
type Limits struct {
	// Request path: whether or not the identifier has an account.
	PerIP         ratelimit.Limit
	PerIdentifier ratelimit.Limit
	// Resolution: only for identifiers that have an account; over them nothing is sent and
	// the answer is the same.
	PerAccount    ratelimit.Limit
	SMSNumberHour ratelimit.Limit
	SMSNumberDay  ratelimit.Limit
}

// DefaultLimits are: 30 requests an hour per IP, 5 an hour per identifier, 5 an hour per
// account, and SMS at most 5 an hour and 10 a day per number.
func DefaultLimits() Limits {
	return Limits{
		PerIP:         ratelimit.Limit{Name: "recovery_ip", Count: 30, Period: time.Hour},
		PerIdentifier: ratelimit.Limit{Name: "recovery_identifier", Count: 5, Period: time.Hour},
		PerAccount:    ratelimit.Limit{Name: "recovery_account", Count: 5, Period: time.Hour},
		SMSNumberHour: ratelimit.Limit{Name: "sms_number_hour", Count: 5, Period: time.Hour},
		SMSNumberDay:  ratelimit.Limit{Name: "sms_number_day", Count: 10, Period: 24 * time.Hour},
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
	return c
}

// ResolveTx is what resolving one request may do, inside the transaction that removes the
// request: every change it makes commits together with that removal, or none does.
type ResolveTx interface {
	AccountByEmail(ctx context.Context, key string) (*account.Account, error)
	AccountByPhone(ctx context.Context, e164 string) (*account.Account, error)
	Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error)
	// IssueLink stores a link token for the account, killing its older unused links.
	IssueLink(ctx context.Context, accountID int64, tokenHash []byte, now, expires time.Time) error
	// SetFlowCode binds the flow to the account and gives it its code. (The code's lifetime
	// and the count of wrong entries were set when the request was made, the same for every
	// flow.)
	SetFlowCode(ctx context.Context, flowID string, accountID int64, mac []byte) error
	Enqueue(ctx context.Context, m *outbox.Message) error
	Audit(ctx context.Context, e audit.Event) error
}

// VerifyOutcome is what a code check decided, for the store to apply in the transaction
// that holds the flow.
type VerifyOutcome struct {
	// Gone: the flow cannot be used (expired, or its code used up); nothing changes.
	Gone bool
	// Expired: the code's lifetime is over; nothing changes.
	Expired bool
	Correct bool
	// KillCode ends the code (the last allowed wrong entry).
	KillCode bool
	// ResetTokenHash is stored for the flow's account when Correct.
	ResetTokenHash []byte
	ResetExpires   time.Time
}

// Store is what recovery needs from storage.
type Store interface {
	// Request applies checks and, when they allow, records r (and, for a phone request
	// that starts a flow, the flow f) — atomically.
	Request(ctx context.Context, r Request, f *Flow, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error)
	// Resend records another request for the flow r.FlowID when the flow's cooldown has
	// passed and checks allow, ending the flow's code and starting its count of wrong
	// entries and its code lifetime (codeExpires) again — for every flow alike, so a flow
	// without an account behaves as one with. r.Identifier is taken from the flow. It
	// returns the flow and kilt.ErrNotFound for an unknown or expired flow; when the
	// cooldown has not passed, a refused result whose RetryAfter is the rest of it.
	Resend(ctx context.Context, r Request, cooldown time.Duration, codeExpires time.Time, checks []ratelimit.Check, now time.Time) (Flow, ratelimit.Result, error)
	// Resolve takes up to limit recorded requests, oldest first, and calls fn for each
	// inside one transaction that also deletes them. Instances resolving at once never
	// take the same request.
	Resolve(ctx context.Context, limit int, fn func(ctx context.Context, tx ResolveTx, r Request) error) (int, error)
	// Verify checks a code within one transaction that holds the flow's row: it hands the
	// flow to check and applies the outcome. Unless Gone or Expired, the attempt is counted
	// (the flow's attempts raised); a correct code ends the code and stores the reset token
	// for the account; a wrong one records a failure for the account (also for a flow
	// without one, so both cost the same) and pauses the account's SMS channel until
	// now+pause when its failures within window reach failures. It returns the flow as it is
	// after the attempt, and kilt.ErrNotFound for an unknown flow.
	Verify(ctx context.Context, flowID string, now time.Time, failures int, window, pause time.Duration,
		check func(f Flow) VerifyOutcome) (Flow, error)
	// TokenAccount returns the account and purpose of a live token, or kilt.ErrNotFound.
	TokenAccount(ctx context.Context, tokenHash []byte, now time.Time) (int64, string, error)
}
