// Package audit is the trail of what happened to accounts: every registration, sign-in
// (success and failure), recovery request, wrong code, password change and session
// revocation, with its time, the client's IP and user agent. Events never hold a password,
// token or code; an identifier that names no account is kept masked.
package audit

import (
	"context"
	"time"
)

// Event types.
const (
	RegistrationRequested = "registration_requested"
	RegistrationCompleted = "registration_completed"
	LoginSucceeded        = "login_succeeded"
	LoginFailed           = "login_failed"
	RecoveryRequested     = "recovery_requested"
	RecoveryLimited       = "recovery_limited"
	CodeFailed            = "code_failed"
	SMSPaused             = "sms_paused"
	PasswordChanged       = "password_changed"
	PasswordReset         = "password_reset"
	SessionRevoked        = "session_revoked"
	SessionsRevokedAll    = "sessions_revoked_all"
	// SessionsRevokedOthers: every session but the one asking ended ("end all others").
	SessionsRevokedOthers = "sessions_revoked_others"
	AccountLocked         = "account_locked"
	AccountUnlocked       = "account_unlocked"
	DeletionRequested     = "deletion_requested"
	DeletionCancelled     = "deletion_cancelled"
	// AccountErased: the account's data was erased; its trail keeps only kinds and times.
	AccountErased = "account_erased"
	// ConsoleSignInFailed: a wrong password (or a locked account) at the service-centre
	// console's sign-in; the desk records its other failures under the same type.
	ConsoleSignInFailed = "console_signin_failed"
	// The citizen's own account (SPEC §9).
	ReauthFailed           = "reauth_failed"            // a wrong current password asked again
	ChannelChangeRequested = "channel_change_requested" // Detail: the kind only (never whose it was)
	ChannelAdded           = "channel_added"
	ChannelReplaced        = "channel_replaced"
	ChannelRemoved         = "channel_removed"
	AccountFrozen          = "account_frozen"   // "this wasn't me"
	AccountUnfrozen        = "account_unfrozen" // a reset through a trusted channel
)

// Event is one entry of the trail.
type Event struct {
	ID        int64
	At        time.Time
	Type      string
	AccountID int64 // 0: none (an unknown identifier)
	IP        string
	UserAgent string
	// Detail is a short, secret-free note: the channel, a masked identifier, a reason.
	Detail string
}

// Store keeps the trail.
type Store interface {
	Record(ctx context.Context, e Event) error
	// Recent returns the account's newest n events, newest first.
	Recent(ctx context.Context, accountID int64, n int) ([]Event, error)
}
