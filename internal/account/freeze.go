package account

import (
	"context"
	"slices"
	"strings"
	"time"

	"kilt"
	"kilt/internal/outbox"
)

// "This wasn't me" (SPEC §9). Every security notice — password changed or reset, a channel
// added, replaced or removed, a channel set at the service-centre desk — carries one link,
// BASE_URL/freeze?token=…: 32 random bytes, only their SHA-256 stored, single use, valid
// FreezeLifetime. The token remembers the channels the notice went to: they were verified
// before the event it tells of, so a password reset through one of them lifts the freeze
// (setPassword). Using the link (package session, Freeze) only takes access away: it ends
// every session, kills every link and code, reverts the channel changes of RevertWindow and
// refuses sign-in. It signs nobody in, so a leaked link costs at most one recovery.

// FreezeLifetime is how long a notice's freeze link works.
const FreezeLifetime = 7 * 24 * time.Hour

// RevertWindow is how far back a freeze reverts channel changes.
const RevertWindow = 7 * 24 * time.Hour

// Error codes of freezing.
const (
	CodeAccountFrozen = "account_frozen"      // sign-in refused: recover the password
	CodeFreezeInvalid = "freeze_link_invalid" // unknown, expired or used freeze links alike
)

// Channel names as freeze tokens and the frozen account keep them.
const (
	ChannelEmail = "email"
	ChannelPhone = "phone"
)

// FreezeToken is the stored side of a freeze link.
type FreezeToken struct {
	AccountID int64
	// Event is the audit event type the notice told of.
	Event string
	// Channels are where the notice went, space-separated ("email phone").
	Channels  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// FreezeStore is what issuing a freeze link needs of a transaction; account.Tx and desk.Tx
// have it.
type FreezeStore interface {
	InsertFreezeToken(ctx context.Context, hash []byte, t FreezeToken) error
}

// Notice is one security event to tell an account's verified channels of.
type Notice struct {
	Kind  outbox.Kind
	Event string // audit event type
	Lang  string
	At    time.Time
	// Payload makes the message's data with the freeze link.
	Payload func(freezeURL string) outbox.Payload
}

// SecurityNotices returns the notices of n to every verified channel of a (as a is: the
// channels verified before the event), each carrying the same freeze link, whose token it
// stores in tx. freezeURL is BASE_URL/freeze. An account without a verified channel gets
// none (and no token).
func SecurityNotices(ctx context.Context, tx FreezeStore, a *Account, freezeURL string, n Notice) ([]outbox.Message, error) {
	lang := n.Lang
	if lang == "" {
		lang = a.Lang
	}
	type dest struct {
		ch      outbox.Channel
		to, set string
	}
	var dests []dest
	if a.Email != "" && a.EmailVerified {
		dests = append(dests, dest{outbox.Email, a.Email, ChannelEmail})
	}
	if a.Phone != "" && a.PhoneVerified {
		dests = append(dests, dest{outbox.SMS, a.Phone, ChannelPhone})
	}
	if len(dests) == 0 {
		return nil, nil
	}
	token, hash, err := kilt.NewToken()
	if err != nil {
		return nil, err
	}
	var channels []string
	for _, d := range dests {
		channels = append(channels, d.set)
	}
	t := FreezeToken{AccountID: a.ID, Event: n.Event, Channels: strings.Join(channels, " "), CreatedAt: n.At,
		ExpiresAt: n.At.Add(FreezeLifetime)}
	if err := tx.InsertFreezeToken(ctx, hash, t); err != nil {
		return nil, err
	}
	link := freezeURL + "?token=" + token
	out := make([]outbox.Message, 0, len(dests))
	for _, d := range dests {
		m := outbox.Message{Channel: d.ch, Kind: n.Kind, Lang: lang, To: d.to, AccountID: a.ID, CreatedAt: n.At}
		m.SetPayload(n.Payload(link))
		out = append(out, m)
	}
	return out, nil
}

// resetChannels are the channels each kind of reset token went through (recovery's and the
// desk's purposes). A reset at the desk follows an identity check in person: it lifts any
// freeze.
var resetChannels = map[string]string{"reset_link": ChannelEmail, "reset_phone": ChannelPhone, "reset_desk": "desk"}

// lifts reports whether a reset with a token of purpose lifts the freeze of a: when it went
// through a channel the freeze trusts (one verified before the event whose notice froze it).
func lifts(a *Account, purpose string) bool {
	ch := resetChannels[purpose]
	return ch == "desk" || (ch != "" && slices.Contains(strings.Fields(a.FrozenTrust), ch))
}
