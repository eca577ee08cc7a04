package outbox

import (
	"maps"
	"strconv"
	"time"
)

// The template data keys of a message, spelled once: the payloads below write them, notify
// reads them back, and the store keeps them as they are.
const (
	KeyLink        = "link"         // an absolute http(s) URL holding a token: secret
	KeyCode        = "code"         // a one-time code: secret
	KeyMinutes     = "minutes"      // how long the link or code lives, a positive integer
	KeyRecoveryURL = "recovery_url" // where to start a recovery
	KeyTime        = "time"         // when it happened (or, for a deletion, will), RFC 3339
	// KeyFreezeURL is the "this wasn't me" link of a security notice (SPEC §9): it holds a
	// token, so it is secret like a link. Any notice kind may carry it.
	KeyFreezeURL = "freeze_url"
	KeyChange    = "change" // which channel change a notice tells of (ChannelUpdatedPayload)
)

// Payload is the typed data of one kind of message. Message.SetPayload files it under the
// keys above, split into what may be kept and what must not outlive delivery.
type Payload interface {
	data() (params, secret map[string]string)
}

// LinkPayload is the data of RegistrationLink and RecoveryLink.
type LinkPayload struct {
	Link     string // secret
	Lifetime time.Duration
}

// CodePayload is the data of RegistrationCode and RecoveryCode.
type CodePayload struct {
	Code     string // secret
	Lifetime time.Duration
}

// AlreadyRegisteredPayload is the data of AlreadyRegistered.
type AlreadyRegisteredPayload struct {
	RecoveryURL string
}

// PasswordChangedPayload is the data of PasswordChanged.
type PasswordChangedPayload struct {
	Time        time.Time
	RecoveryURL string
	FreezeURL   string // secret
}

// ChannelChangedPayload is the data of ChannelChanged (an operator set a channel).
type ChannelChangedPayload struct {
	Time        time.Time
	RecoveryURL string
	FreezeURL   string // secret
}

// The changes a ChannelUpdated notice tells of.
const (
	ChangeEmailAdded    = "email_added"
	ChangeEmailReplaced = "email_replaced"
	ChangeEmailRemoved  = "email_removed"
	ChangePhoneAdded    = "phone_added"
	ChangePhoneReplaced = "phone_replaced"
	ChangePhoneRemoved  = "phone_removed"
)

// ChannelUpdatedPayload is the data of ChannelUpdated.
type ChannelUpdatedPayload struct {
	Time      time.Time
	Change    string // one of the Change… constants
	FreezeURL string // secret
}

// AccountFrozenPayload is the data of AccountFrozen: when, and where to recover. It has no
// freeze link: the account is frozen already.
type AccountFrozenPayload struct {
	Time        time.Time
	RecoveryURL string
}

func (p AccountFrozenPayload) data() (params, secret map[string]string) {
	return map[string]string{KeyTime: p.Time.Format(time.RFC3339), KeyRecoveryURL: p.RecoveryURL}, nil
}

// ChannelTakenPayload is the data of ChannelTaken.
type ChannelTakenPayload struct {
	Time time.Time
}

func minutes(d time.Duration) string { return strconv.Itoa(int(d / time.Minute)) }

func (p LinkPayload) data() (params, secret map[string]string) {
	return map[string]string{KeyMinutes: minutes(p.Lifetime)}, map[string]string{KeyLink: p.Link}
}

func (p CodePayload) data() (params, secret map[string]string) {
	return map[string]string{KeyMinutes: minutes(p.Lifetime)}, map[string]string{KeyCode: p.Code}
}

func (p AlreadyRegisteredPayload) data() (params, secret map[string]string) {
	return map[string]string{KeyRecoveryURL: p.RecoveryURL}, nil
}

func (p PasswordChangedPayload) data() (params, secret map[string]string) {
	return map[string]string{KeyTime: p.Time.Format(time.RFC3339), KeyRecoveryURL: p.RecoveryURL}, freeze(p.FreezeURL)
}

func (p ChannelChangedPayload) data() (params, secret map[string]string) {
	return map[string]string{KeyTime: p.Time.Format(time.RFC3339), KeyRecoveryURL: p.RecoveryURL}, freeze(p.FreezeURL)
}

func (p ChannelUpdatedPayload) data() (params, secret map[string]string) {
	return map[string]string{KeyTime: p.Time.Format(time.RFC3339), KeyChange: p.Change}, freeze(p.FreezeURL)
}

func (p ChannelTakenPayload) data() (params, secret map[string]string) {
	return map[string]string{KeyTime: p.Time.Format(time.RFC3339)}, nil
}

// freeze is the secret part of a notice that carries a freeze link.
func freeze(url string) map[string]string {
	if url == "" {
		return nil
	}
	return map[string]string{KeyFreezeURL: url}
}

// SetPayload sets m's Params and Secret from p.
func (m *Message) SetPayload(p Payload) { m.Params, m.Secret = p.data() }

// DeletionPayload is the data of DeletionScheduled: when the account will be erased and the
// single-use link that cancels it, and the notice's "this wasn't me" link (SPEC §9), which
// also cancels it.
type DeletionPayload struct {
	CancelLink string // secret
	DueAt      time.Time
	FreezeURL  string // secret
}

func (p DeletionPayload) data() (params, secret map[string]string) {
	secret = map[string]string{KeyLink: p.CancelLink}
	maps.Copy(secret, freeze(p.FreezeURL))
	return map[string]string{KeyTime: p.DueAt.Format(time.RFC3339)}, secret
}
