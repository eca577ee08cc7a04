// Package account holds the people Kilt knows: their identifiers (an e-mail address and/or a
// mobile number, each with a verified flag), their password, whether an operator has locked
// them, and the services that create accounts and change passwords. Signing in is package
// session's.
//
// Operators bring existing users in with Import (kilt user import): the file formats, the
// checks made on every row and the rules that make an import idempotent are described in
// import.go.
package account

import (
	"context"
	"time"

	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/password"
)

// Account is one person's account.
type Account struct {
	ID int64
	// Email is the normalised address (trimmed, domain lower-cased), or "".
	Email         string
	EmailVerified bool
	// Phone is the number in E.164, or "".
	Phone         string
	PhoneVerified bool
	// PasswordHash is a PHC string (Argon2id, or an imported bcrypt/argon2 hash until the
	// next sign-in upgrades it).
	PasswordHash string
	Locked       bool
	Lang         string
	// SMSPausedUntil: wrong codes paused the account's SMS channel until then.
	SMSPausedUntil    time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
	PasswordChangedAt time.Time
}

// Identifiers lists the account's identifiers as the password policy's subject sees them.
func (a *Account) subject(history []password.HistoryEntry) password.Subject {
	return password.Subject{Email: a.Email, Phone: a.Phone, History: history}
}

// Throttle is the sign-in slow-down state of one key: how many sign-ins failed in a row and
// when the last one did. When the next attempt is allowed follows from these (ThrottleConfig).
type Throttle struct {
	Failures     int
	LastFailedAt time.Time
}

// PasswordChange is everything that happens, in one transaction, when an account gets a new
// password: the hash and its history entry; the recovery token that allowed it consumed
// (single use: if it was consumed meanwhile, nothing happens and the change fails with 410
// link_invalid); every other link and code of the account killed; every session but
// KeepSessionID ended; the sign-in slow-down of the account cleared; the notices queued;
// the audit event recorded.
type PasswordChange struct {
	AccountID int64
	Hash      string
	History   password.HistoryEntry
	// HistorySize is how many history entries to keep (the policy's N, current included).
	HistorySize int
	// KeepSessionID is the session that made the change (0 for none).
	KeepSessionID int64
	// ConsumeTokenHash is the recovery token that allows the change (nil: a signed-in change).
	ConsumeTokenHash []byte
	// ThrottleKey is the account's sign-in slow-down key, cleared by the change.
	ThrottleKey string
	Notices     []outbox.Message
	Audit       audit.Event
	Now         time.Time
}

// Client describes who asks for a change, for the audit trail and the language of notices.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
}

// Store is what the account services need from storage. Implementations return
// kilt.ErrNotFound for a missing row.
type Store interface {
	// CreateAccount inserts a and its first history entry, setting a.ID. It returns a
	// *kilt.Error of kind conflict, code identifier_taken, if the e-mail or phone is taken.
	CreateAccount(ctx context.Context, a *Account, h password.HistoryEntry) error
	AccountByID(ctx context.Context, id int64) (*Account, error)
	// AccountByEmail looks an account up by EmailKey of its address.
	AccountByEmail(ctx context.Context, key string) (*Account, error)
	AccountByPhone(ctx context.Context, e164 string) (*Account, error)
	// PasswordHistory returns up to n entries, newest first.
	PasswordHistory(ctx context.Context, accountID int64, n int) ([]password.HistoryEntry, error)
	// ChangePassword applies c atomically: new hash, history entry added and trimmed to
	// c.HistorySize, every session of the account but c.KeepSessionID deleted.
	ChangePassword(ctx context.Context, c PasswordChange) error

	// UpdateLoginThrottle runs fn on the throttle state of key (zero if none) while holding
	// a lock on it, and stores what fn left there unless fn returns an error, which it then
	// returns. Concurrent sign-ins of one key are so counted one after the other.
	UpdateLoginThrottle(ctx context.Context, key string, fn func(t *Throttle) error) error
	ClearLoginThrottle(ctx context.Context, key string) error
}
