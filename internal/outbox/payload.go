package outbox

import (
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
	KeyFreezeLink  = "freeze_link"  // a deletion notice's "this wasn't me" link: secret
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
	return map[string]string{KeyTime: p.Time.Format(time.RFC3339), KeyRecoveryURL: p.RecoveryURL}, nil
}

// SetPayload sets m's Params and Secret from p.
func (m *Message) SetPayload(p Payload) { m.Params, m.Secret = p.data() }

// DeletionPayload is the data of DeletionScheduled: when the account will be erased and the
// single-use link that cancels it. FreezeLink, when set, is the notice's "this wasn't me"
// link (SPEC §9).
type DeletionPayload struct {
	CancelLink string // secret
	DueAt      time.Time
	FreezeLink string // secret; "" until freezing exists
}

func (p DeletionPayload) data() (params, secret map[string]string) {
	secret = map[string]string{KeyLink: p.CancelLink}
	if p.FreezeLink != "" {
		secret[KeyFreezeLink] = p.FreezeLink
	}
	return map[string]string{KeyTime: p.DueAt.Format(time.RFC3339)}, secret
}
