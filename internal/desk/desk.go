// Package desk is the service-centre desk: operators (existing accounts given the
// role support or admin by the command line), their second factor (TOTP, RFC 6238, with
// backup codes), console sessions, the exact-identifier look-up, the actions on an account
// (each with a reason, audited with the operator's account id) and assisted recovery: a
// one-time slip code the citizen enters at /recovery/desk, or a verified channel set by the
// operator after an in-person identity check.
//
// The rules live here; storage is the one port InTx, whose Tx offers row operations only
// (internal/sqlstore/desk.go). The console's pages and JSON calls (internal/admin) and the
// citizen's /recovery/desk (internal/web, internal/api) only call the Service.
package desk

import (
	"context"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
	"kilt/internal/session"
)

// Role is what an operator may do: support looks accounts up and acts on them; admin also
// reads every operator's actions and exports the audit trail.
type Role string

// The roles.
const (
	RoleSupport Role = "support"
	RoleAdmin   Role = "admin"
)

// ParseRole returns the role named s, or 400 role_invalid.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleSupport, RoleAdmin:
		return Role(s), nil
	}
	return "", kilt.Errorf(kilt.KindInvalid, CodeRoleInvalid, "want support or admin")
}

// Operator is an account's operator record.
type Operator struct {
	AccountID int64
	Role      Role
	// TOTPSecret is the sealed (AES-GCM) base32 secret; nil until enrolment is confirmed.
	TOTPSecret []byte
	// PendingSecret is the sealed secret of an enrolment begun and not yet confirmed, and
	// EnrolTicketHash the hash of the ticket that binds its confirmation (valid until
	// EnrolExpiresAt).
	PendingSecret   []byte
	EnrolTicketHash []byte
	EnrolExpiresAt  time.Time
	// LastStep is the last TOTP time step accepted: a code of that step or an earlier one is
	// refused, so each code works once.
	LastStep  int64
	CreatedAt time.Time
}

// Enrolled reports whether the operator has a confirmed second factor.
func (o *Operator) Enrolled() bool { return len(o.TOTPSecret) > 0 }

// Listing is an operator as `kilt operator list` shows it.
type Listing struct {
	Operator
	Email, Phone string
}

// Session is a console session: separate from citizens' sessions, shorter (8 h absolute,
// 15 min idle), and only its token's hash is stored.
type Session struct {
	ID         int64
	AccountID  int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
}

// Slip is a one-time recovery code issued at the desk; the store keeps only its HMAC.
type Slip struct {
	ID         int64
	AccountID  int64
	OperatorID int64
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
}

// Event is an entry of the audit trail as the desk reads and writes it: OperatorID names
// the operator who acted (0: none).
type Event struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Type       string    `json:"type"`
	AccountID  int64     `json:"account_id,omitempty"`
	OperatorID int64     `json:"operator_id,omitempty"`
	IP         string    `json:"ip,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// Event types the desk records.
const (
	EventOperatorAdded      = "operator_added"
	EventOperatorRemoved    = "operator_removed"
	EventEnrolled           = "operator_enrolled"
	EventConsoleSignIn      = "console_signin"
	EventConsoleSignInFail  = audit.ConsoleSignInFailed
	EventLookup             = "operator_lookup"
	EventLock               = "account_locked"
	EventUnlock             = "account_unlocked"
	EventRevokeSessions     = "sessions_revoked_all"
	EventRecoveryCodeIssued = "desk_code_issued"
	EventRecoveryCodeUsed   = "desk_code_used"
	EventChannelSet         = "desk_channel_set"
)

// Tx is what the desk needs from storage inside one transaction: row operations only.
// Missing rows are kilt.ErrNotFound; a taken identifier is a *kilt.Error of kind conflict.
type Tx interface {
	Operator(ctx context.Context, accountID int64) (*Operator, error)
	OperatorByTicket(ctx context.Context, ticketHash []byte) (*Operator, error)
	// SaveOperator inserts or updates op.
	SaveOperator(ctx context.Context, op *Operator) error
	DeleteOperator(ctx context.Context, accountID int64) error
	Operators(ctx context.Context) ([]Listing, error)
	ReplaceBackupCodes(ctx context.Context, accountID int64, macs [][]byte, now time.Time) error
	// UseBackupCode marks the unused code mac of the account used and reports whether there
	// was one (single use: UPDATE … WHERE used_at IS NULL).
	UseBackupCode(ctx context.Context, accountID int64, mac []byte, now time.Time) (bool, error)

	CreateSession(ctx context.Context, s *Session, tokenHash []byte) error
	SessionByHash(ctx context.Context, tokenHash []byte) (*Session, error)
	TouchSession(ctx context.Context, id int64, now time.Time) error
	DeleteSession(ctx context.Context, id int64) error
	DeleteOperatorSessions(ctx context.Context, accountID int64) error

	AccountByID(ctx context.Context, id int64) (*account.Account, error)
	AccountByEmailKey(ctx context.Context, key string) (*account.Account, error)
	AccountByPhone(ctx context.Context, e164 string) (*account.Account, error)
	SessionCount(ctx context.Context, accountID int64) (int, error)
	// LastSignIn is the time of the account's last successful sign-in (zero: none).
	LastSignIn(ctx context.Context, accountID int64) (time.Time, error)
	// DeletionDue is when the account's pending deletion is due (zero: none pending).
	DeletionDue(ctx context.Context, accountID int64) (time.Time, error)
	SetLocked(ctx context.Context, accountID int64, locked bool, now time.Time) error
	// EndTx ends the account's citizen sessions the session domain's way
	// (session.Service.EndAccount: their single sign-on tokens and back-channel logouts too).
	session.EndTx
	// SetEmail and SetPhone set the channel, verified.
	SetEmail(ctx context.Context, accountID int64, email, key string, now time.Time) error
	SetPhone(ctx context.Context, accountID int64, e164 string, now time.Time) error

	Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error)

	InsertSlip(ctx context.Context, s *Slip, mac []byte) error
	// KillSlips ends every unused slip of the account.
	KillSlips(ctx context.Context, accountID int64, now time.Time) error
	// UseAllTokens marks every unused link and reset token of the account used at now.
	UseAllTokens(ctx context.Context, accountID int64, now time.Time) error
	// EndAccountFlows ends every live recovery flow of the account: no code, expired at now.
	EndAccountFlows(ctx context.Context, accountID int64, now time.Time) error
	// EndChannelChanges ends the account's pending channel changes: no token, no code.
	EndChannelChanges(ctx context.Context, accountID int64, now time.Time) error
	SlipByMAC(ctx context.Context, mac []byte) (*Slip, error)
	// UseSlip marks the slip used and reports whether it was unused.
	UseSlip(ctx context.Context, id int64, now time.Time) (bool, error)
	// SlipFailures counts the wrong slip codes entered from the (hashed) IP since then.
	SlipFailures(ctx context.Context, ipKey string, since time.Time) (int, error)
	AddSlipFailure(ctx context.Context, ipKey string, now time.Time) error
	// IssueResetToken stores a reset token (its hash) that can only set the account's
	// password, as a verified recovery code gives (the citizen's reset screen takes it).
	IssueResetToken(ctx context.Context, accountID int64, tokenHash []byte, now, expires time.Time) error

	Record(ctx context.Context, e Event) error
	Recent(ctx context.Context, accountID int64, n int) ([]Event, error)
	// LookedUp reports whether the operator looked the account up (an EventLookup naming
	// both) at or after since.
	LookedUp(ctx context.Context, operatorID, accountID int64, since time.Time) (bool, error)
	// Events returns up to n events with from ≤ at < to and id > afterID, oldest first.
	Events(ctx context.Context, from, to time.Time, afterID int64, n int) ([]Event, error)
	// OperatorEvents returns up to n events an operator made with at ≥ since, newest first.
	OperatorEvents(ctx context.Context, since time.Time, n int) ([]Event, error)
	Enqueue(ctx context.Context, m *outbox.Message) error
	// InsertFreezeToken stores the hash of a notice's freeze link (account.SecurityNotices).
	InsertFreezeToken(ctx context.Context, hash []byte, t account.FreezeToken) error
	// InsertChannelChange records a channel change (a freeze reverts those of its window).
	InsertChannelChange(ctx context.Context, c account.ChannelChange) error
}

// Port is the desk's storage: one transactional entry.
type Port interface {
	InTx(ctx context.Context, fn func(Tx) error) error
}

// Client describes who asks: for the audit trail and the limits.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
}

// Error codes of the desk.
const (
	CodeRoleInvalid          = "role_invalid"
	CodeNotOperator          = "not_operator"
	CodeTOTPRequired         = "totp_required"
	CodeTOTPInvalid          = "totp_invalid"
	CodeEnrolmentRequired    = "totp_enrolment_required"
	CodeEnrolmentGone        = "enrolment_gone"
	CodeAdminOnly            = "admin_only"
	CodeReasonRequired       = "reason_required"
	CodeIdentityCheck        = "identity_check_required"
	CodeLookupLimited        = "lookup_limited"
	CodeSlipInvalid          = "desk_code_invalid"
	CodeSlipLimited          = "desk_code_limited"
	CodeSlipFormat           = "desk_code_format"
	CodeConsoleUnauthorized  = "console_unauthorized"
	CodeInvalidCredentials   = session.CodeInvalidCredentials
	CodeChannelInvalid       = "channel_invalid"
	CodePeriodInvalid        = "period_invalid"
	CodeAccountLockedForSlip = "account_locked"
)
