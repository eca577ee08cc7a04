// Package outbox delivers Kilt's e-mails and SMS reliably. A message is written to the outbox
// in the same database transaction as the state that caused it (a recovery token, a
// registration), so it exists if and only if that state does; a dispatcher then claims it,
// renders it in its language, hands it to the channel's sender, and marks it sent — or, after
// a bounded number of attempts with exponential backoff, abandoned. A message whose sender
// died after claiming it is claimed again when its lease runs out. The secret part of a
// message (a link, a code) is erased from the row once it is sent or given up.
package outbox

import (
	"context"
	"errors"
)

// The error codes of the outbox (kilt.Error.Code), for an operator's retry.
const (
	CodeNotRetryable = "outbox_not_retryable" // only abandoned or blocked messages are retried
	CodeSecretErased = "outbox_secret_erased" // its link or code was erased when it was given up
)

// Channel is how a message travels.
type Channel string

// The channels.
const (
	Email Channel = "email"
	SMS   Channel = "sms"
	// Backchannel is an HTTP POST of a logout token to a relying party's back-channel
	// logout URI (OpenID Connect Back-Channel Logout 1.0); To is the URI.
	Backchannel Channel = "backchannel"
)

// Kind names a message template (notify renders it).
type Kind string

// The kinds of message Kilt sends.
const (
	RegistrationLink  Kind = "registration_link"  // e-mail: confirm the address (Data: link)
	RegistrationCode  Kind = "registration_code"  // SMS: confirm the number (Data: code)
	AlreadyRegistered Kind = "already_registered" // e-mail or SMS: "you already have an account — use recovery" (Data: recovery_url)
	RecoveryLink      Kind = "recovery_link"      // e-mail: reset the password (Data: link, minutes)
	RecoveryCode      Kind = "recovery_code"      // SMS: the recovery code (Data: code, minutes)
	PasswordChanged   Kind = "password_changed"   // e-mail or SMS: notice (Data: time, freeze_url)
	ChannelChanged    Kind = "channel_changed"    // e-mail or SMS: an operator set a new channel (Data: time, freeze_url)
	ChannelUpdated    Kind = "channel_updated"    // e-mail or SMS: the citizen added, replaced or removed a channel (Data: time, change, freeze_url)
	ChannelLink       Kind = "channel_link"       // e-mail: confirm a new address of an account (Data: link, minutes)
	ChannelCode       Kind = "channel_code"       // SMS: confirm a new number of an account (Data: code, minutes)
	ChannelTaken      Kind = "channel_taken"      // e-mail or SMS: someone tried to add this identifier to another account (Data: time)
	AccountFrozen     Kind = "account_frozen"     // e-mail or SMS: "this wasn't me" froze the account (Data: time, recovery_url)
	DeletionScheduled Kind = "deletion_scheduled" // e-mail or SMS: the account will be erased (Data: time, link to cancel, freeze_url)
	BackchannelLogout Kind = "backchannel_logout" // back-channel: a session ended (Data: client_id, sub, session_id; the token is signed at sending)
)

// Rendered is a message ready for its sender: the destination and the text in the
// message's language.
type Rendered struct {
	Channel Channel
	// Kind is the message's kind: a sender may treat kinds differently (the SMS guard
	// keeps part of its budget for recovery codes).
	Kind Kind
	// To is an e-mail address or an E.164 phone number.
	To   string
	Lang string
	// Subject, Text and HTML are the e-mail's; an SMS uses Text only.
	Subject string
	Text    string
	HTML    string
	// ID is the outbox message's ID, for idempotency keys and logs.
	ID int64
}

// Sender hands a rendered message to a transport: an SMTP server, an SMS gateway, the
// console. Send returns nil once the transport has accepted the message. Errors are
// temporary (retried with backoff) unless wrapped by Permanent or Blocked.
type Sender interface {
	Send(ctx context.Context, m Rendered) error
}

// PermanentError is a failure that retrying cannot fix (the SMTP server refused the
// recipient, the gateway refused the request as malformed): the message is abandoned.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// BlockedError is a message Kilt itself refuses to send: a destination outside the allowed
// countries, not a mobile number, or the daily SMS budget spent. The message is marked
// blocked with the reason — visible to operators and in metrics, never silent.
type BlockedError struct{ Reason string }

func (e *BlockedError) Error() string { return "blocked: " + e.Reason }

// Blocked returns a BlockedError with the reason (a short snake_case word, used as a metric
// label: country_not_allowed, not_mobile, budget_spent).
func Blocked(reason string) error { return &BlockedError{Reason: reason} }

// IsPermanent reports whether err says retrying is pointless.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// BlockReason returns the reason of a BlockedError in err's chain, or "".
func BlockReason(err error) string {
	var b *BlockedError
	if errors.As(err, &b) {
		return b.Reason
	}
	return ""
}
