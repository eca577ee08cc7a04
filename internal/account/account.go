// Package account holds the people Kilt knows: their identifiers (an e-mail address and/or a
// mobile number, each with a verified flag), their password, whether an operator has locked
// them, and the services that create accounts and change passwords. Signing in is package
// session's.
//
// A signed-in citizen adds, replaces and removes an e-mail address or phone number with
// Channels (channels.go); every security notice carries a "this wasn't me" freeze link
// (SecurityNotices, freeze.go), which package session acts on.
//
// Operators bring existing users in with Import (kilt user import): the file formats, the
// checks made on every row and the rules that make an import idempotent are described in
// import.go.
package account

import (
	"context"
	"time"

	"kilt/internal/audit"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
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
	SMSPausedUntil time.Time
	// FrozenAt: someone used the "this wasn't me" link of a security notice then (zero: not
	// frozen). Sign-in is refused until a password reset through one of FrozenTrust's
	// channels ("email", "phone": those the notice went to) lifts it (freeze.go).
	FrozenAt          time.Time
	FrozenTrust       string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	PasswordChangedAt time.Time
	// ConsentVersion and ConsentAt: the personal-data consent the citizen gave when
	// registering, and when ("" and zero for accounts made otherwise: imported, added by an
	// operator, or registered before consent was asked).
	ConsentVersion string
	ConsentAt      time.Time
}

// Frozen reports whether the account is frozen (freeze.go).
func (a *Account) Frozen() bool { return !a.FrozenAt.IsZero() }

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

// Client describes who asks for a change, for the audit trail and the language of notices.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
}

// Error codes of the account services, registration and the codes shared with recovery:
// each the JSON error.code and the i18n key, defined once.
const (
	CodeInvalidEmail        = "invalid_email"
	CodeInvalidPhone        = "invalid_phone"
	CodeInvalidIdentifier   = "invalid_identifier"
	CodeInvalidCredentials  = "invalid_credentials"
	CodeLoginThrottled      = "login_throttled"
	CodeAccountLocked       = "account_locked"
	CodeIdentifierTaken     = "identifier_taken"
	CodeWrongPassword       = "current_password_incorrect"
	CodePasswordRequired    = "password_required"
	CodeRegistrationInvalid = "registration_invalid" // unknown, expired, used or superseded
	CodePasswordIncorrect   = "password_incorrect"   // not the password chosen at registration
	CodeChannelRequired     = "channel_required"     // neither or both of email and phone
	CodePhoneNotSupported   = "phone_not_supported"  // not a mobile number of an allowed country
	CodeCodeInvalid         = "code_invalid"         // a wrong code, with details.attempts_left
	CodeCodeFormat          = "code_format"          // not 6 digits
	CodeLinkInvalid         = "link_invalid"         // invalid, expired and used links alike
	CodeRateLimited         = "rate_limited"
	CodeResendTooSoon       = "resend_too_soon" // a new code asked for before the cool-down
	// CodeCodesPaused: too many wrong registration codes for the number within the window;
	// no code is checked or sent for its registrations until Retry-After.
	CodeCodesPaused = "codes_paused"
	// CodeConsentRequired: registration without the current personal-data consent version
	// (details.consent_version is the current one).
	CodeConsentRequired = "personal_data_consent_required"
)

// Store is the account services' port to storage: InTx for every change, in one
// transaction with everything that goes with it, and the reads and sign-in bookkeeping
// that need none. Implementations return kilt.ErrNotFound for a missing row.
type Store interface {
	// InTx runs fn in a transaction: committed if fn returns nil, rolled back otherwise.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	AccountByID(ctx context.Context, id int64) (*Account, error)
	// AccountByEmail looks an account up by EmailKey of its address.
	AccountByEmail(ctx context.Context, key string) (*Account, error)
	AccountByPhone(ctx context.Context, e164 string) (*Account, error)
	// PasswordHistory returns up to n entries, newest first.
	PasswordHistory(ctx context.Context, accountID int64, n int) ([]password.HistoryEntry, error)

	// UpdateLoginThrottle runs fn on the throttle state of key (zero if none) while holding
	// a lock on it, and stores what fn left there unless fn returns an error, which it then
	// returns. Concurrent sign-ins of one key are so counted one after the other.
	UpdateLoginThrottle(ctx context.Context, key string, fn func(t *Throttle) error) error
	ClearLoginThrottle(ctx context.Context, key string) error
	exportStore
}

// Tx is what a transaction offers: row operations, no rules. Single-row reads return
// kilt.ErrNotFound when there is none and lock the row until the transaction ends; an
// insert that breaks a uniqueness constraint returns an error of kind conflict.
type Tx interface {
	AccountByID(ctx context.Context, id int64) (*Account, error)
	AccountByEmail(ctx context.Context, key string) (*Account, error)
	AccountByPhone(ctx context.Context, e164 string) (*Account, error)
	// InsertAccount inserts a and its first history entry, setting a.ID.
	InsertAccount(ctx context.Context, a *Account, h password.HistoryEntry) error
	// UpdatePassword sets the account's hash, its updated and password-changed times.
	UpdatePassword(ctx context.Context, accountID int64, hash string, now time.Time) error
	SetLocked(ctx context.Context, accountID int64, locked bool, now time.Time) error
	// AddHistory adds an entry and keeps only the newest keep entries of the account.
	AddHistory(ctx context.Context, accountID int64, h password.HistoryEntry, keep int) error

	// UseToken marks the unused, unexpired recovery token with that hash of the account
	// used at now, or returns kilt.ErrNotFound when there is none (single use: of two
	// transactions racing for one token, one finds it).
	UseToken(ctx context.Context, hash []byte, accountID int64, now time.Time) error
	// TokenPurpose returns the purpose of the recovery token with that hash (whether used or
	// not), or kilt.ErrNotFound.
	TokenPurpose(ctx context.Context, hash []byte) (string, error)
	// UseAllTokens marks every unused recovery token of the account used at now.
	UseAllTokens(ctx context.Context, accountID int64, now time.Time) error
	// EndAccountFlows ends every live recovery flow of the account: no code, expired at now.
	EndAccountFlows(ctx context.Context, accountID int64, now time.Time) error
	// DeleteSessions deletes every session of the account but except (0: none kept) and
	// returns the ids of those it deleted. With oidc.LogoutTx it is session.EndTx: a new
	// password ends the sessions the session domain's way (Config.EndSessions).
	DeleteSessions(ctx context.Context, accountID, except int64) ([]int64, error)
	// DeleteOperatorSessions deletes the account's console sessions (an operator's).
	DeleteOperatorSessions(ctx context.Context, accountID int64) error
	oidc.LogoutTx
	ClearLoginThrottle(ctx context.Context, key string) error

	InsertRegistration(ctx context.Context, r Registration) error
	// Registration returns the registration with that id.
	Registration(ctx context.Context, id string) (Registration, error)
	// RegistrationByToken returns the registration whose link token has that hash.
	RegistrationByToken(ctx context.Context, hash []byte) (Registration, error)
	// UpdateRegistration stores r's token and code, attempts, expiry and completion.
	UpdateRegistration(ctx context.Context, r Registration) error
	// EndRegistrations ends every pending registration of the identifier's key
	// (Registration.Key): no token, no code, expired at now.
	EndRegistrations(ctx context.Context, channel outbox.Channel, key string, now time.Time) error
	// AddCodeFailure records a wrong registration code under key (a keyed hash of the
	// number, with registration's own label), with no account: the count belongs to the number.
	AddCodeFailure(ctx context.Context, key string, at time.Time) error
	// CodeFailureTimes returns the times of key's failures after since, newest first.
	CodeFailureTimes(ctx context.Context, key string, since time.Time) ([]time.Time, error)
	// PruneCodeFailures deletes the failures of key at or before before.
	PruneCodeFailures(ctx context.Context, key string, before time.Time) error

	// InsertFreezeToken stores the hash of a security notice's freeze link.
	InsertFreezeToken(ctx context.Context, hash []byte, t FreezeToken) error
	// Unfreeze lifts the account's freeze.
	Unfreeze(ctx context.Context, accountID int64, now time.Time) error

	// InsertChannelChange, ChannelChange, ChannelChangeByToken, UpdateChannelChange and
	// EndChannelChanges keep the account's channel changes (channels.go); the single-row
	// reads lock the row.
	InsertChannelChange(ctx context.Context, c ChannelChange) error
	ChannelChange(ctx context.Context, id string) (ChannelChange, error)
	ChannelChangeByToken(ctx context.Context, hash []byte) (ChannelChange, error)
	// UpdateChannelChange stores c's token and code, attempts, expiry, completion and old value.
	UpdateChannelChange(ctx context.Context, c ChannelChange) error
	// PendingChannelChange returns the account's newest change that is not completed and
	// has not expired at now, or kilt.ErrNotFound.
	PendingChannelChange(ctx context.Context, accountID int64, now time.Time) (ChannelChange, error)
	// EndChannelChanges ends every pending change of the account: no token, no code, expired at now.
	EndChannelChanges(ctx context.Context, accountID int64, now time.Time) error
	// SetChannel sets the account's e-mail (with its EmailKey) or phone: "" clears it.
	// Another account's identifier is an error of kind conflict.
	SetChannel(ctx context.Context, accountID int64, kind, value string, verified bool, now time.Time) error

	// Take applies rate-limit checks, all or nothing.
	Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error)
	Enqueue(ctx context.Context, m *outbox.Message) error
	Audit(ctx context.Context, e audit.Event) error
	deletionTx
}
