package account

import (
	"context"
	"errors"
	"time"

	"kilt"
	"kilt/internal/audit"
	"kilt/internal/outbox"
)

// Channels (SPEC §9): a signed-in citizen adds an e-mail address or a phone number to the
// account, replaces one, or removes one while another verified channel remains. An account
// has at most one of each; adding one of a kind the account has replaces it once the new one
// is verified — by a link sent to the new address, or a 6-digit code sent to the new number.
//
// Every change asks the current password again (session.Service.Reauthenticate; valid
// ReauthValid), goes through registration's policy, limits and SMS guard (the same code:
// Registrations.newIdentifier, takeClient, takeSMS; the SMS guard's registration share of
// the budget), and tells every channel verified before it, with a freeze link
// (SecurityNotices). An identifier of another account gets the same 202 after the same work
// and nothing that can be verified: its owner is told someone tried (ChannelTaken).

// ReauthValid is how long the current password, asked again, allows changes.
const ReauthValid = 5 * time.Minute

// Error codes of channel changes.
const (
	CodeReauthRequired       = "reauthentication_required" // 403: give the current password again
	CodeChannelUnchanged     = "channel_unchanged"         // 409: the account already has it, verified
	CodeChannelChangeInvalid = "channel_change_invalid"    // 410: unknown, expired, used or superseded
	CodeLastChannel          = "last_channel"              // 409: no verified channel would remain
	CodeChannelNotFound      = "channel_not_found"         // 404: the account has no such channel
)

// ChannelChange is a change of one channel of an account: pending while its link or code
// is out, then completed (the old value kept, for a freeze to revert), or a decoy that can
// never complete. A removal is stored completed, with no Value.
type ChannelChange struct {
	ID          string
	AccountID   int64
	Kind        string // ChannelEmail or ChannelPhone
	Value       string // the new identifier, normalised; "" for a removal
	OldValue    string
	OldVerified bool
	TokenHash   []byte // e-mail: the link's token
	CodeMAC     []byte // phone: the code
	Attempts    int
	// Decoy: Value belongs to another account. It answers like any other change and can
	// never complete; the owner was told.
	Decoy       bool
	Lang        string
	CreatedAt   time.Time
	SentAt      time.Time // the last link or code sent (the resend cool-down)
	ExpiresAt   time.Time // pending: the link's or code's end; completed: the end of RevertWindow
	CompletedAt time.Time
	RevertedAt  time.Time
}

// Pending reports whether c can still be completed at now.
func (c ChannelChange) Pending(now time.Time) bool {
	return c.CompletedAt.IsZero() && !now.After(c.ExpiresAt) && (c.Decoy || c.TokenHash != nil || c.CodeMAC != nil)
}

// ChannelConfig holds the lifetimes of channel changes.
type ChannelConfig struct {
	LinkLifetime time.Duration // 24 h
	CodeLifetime time.Duration // 10 min
	CodeAttempts int           // 5
	ResendAfter  time.Duration // 60 s
	ConfirmURL   string        // BASE_URL/account/channels/confirm
	FreezeURL    string        // BASE_URL/freeze
}

// Channels changes the channels of accounts.
type Channels struct {
	reg     *Registrations
	store   Store
	clock   kilt.Clock
	cfg     ChannelConfig
	codeKey []byte
}

// NewChannels returns the channel service, sharing registration's limits and SMS guard.
func NewChannels(reg *Registrations, cfg ChannelConfig) *Channels {
	if cfg.LinkLifetime <= 0 {
		cfg.LinkLifetime = 24 * time.Hour
	}
	if cfg.CodeLifetime <= 0 {
		cfg.CodeLifetime = 10 * time.Minute
	}
	if cfg.CodeAttempts <= 0 {
		cfg.CodeAttempts = 5
	}
	if cfg.ResendAfter <= 0 {
		cfg.ResendAfter = time.Minute
	}
	return &Channels{reg: reg, store: reg.store, clock: reg.clock, cfg: cfg,
		codeKey: kilt.DeriveKey(reg.cfg.Secret, "channel-code")}
}

// Config returns the configuration in force.
func (h *Channels) Config() ChannelConfig { return h.cfg }

// Wake tells the dispatcher a message is waiting.
func (h *Channels) Wake() { h.reg.Wake() }

// fresh refuses a change when the current password was not given again within ReauthValid.
func (h *Channels) fresh(reauthAt time.Time) error {
	if reauthAt.IsZero() || h.clock().Sub(reauthAt) > ReauthValid {
		return kilt.E(kilt.KindForbidden, CodeReauthRequired)
	}
	return nil
}

func kindOf(ch outbox.Channel) string {
	if ch == outbox.Email {
		return ChannelEmail
	}
	return ChannelPhone
}

// current returns a's identifier of kind and whether it is verified.
func current(a *Account, kind string) (string, bool) {
	if kind == ChannelEmail {
		return a.Email, a.EmailVerified
	}
	return a.Phone, a.PhoneVerified
}

// Start starts adding or replacing a channel of the account with a new e-mail address or
// phone number (exactly one), the current password given again within ReauthValid: a link
// or a code goes to it, and the change's id is returned (202). 400 for a malformed or
// unsupported identifier, 409 channel_unchanged for the account's own verified one, 429 over
// registration's limits. An identifier of another account gets the same answer; nothing
// verifiable is sent, and its owner is told someone tried. A newer change ends the older
// pending one. The caller calls Wake once the answer is written.
func (h *Channels) Start(ctx context.Context, accountID int64, reauthAt time.Time, c Client, email, phone string) (string, error) {
	if err := h.fresh(reauthAt); err != nil {
		return "", err
	}
	channel, value, key, limitKey, err := h.reg.newIdentifier(email, phone)
	if err != nil {
		return "", err
	}
	kind := kindOf(channel)
	a, err := h.store.AccountByID(ctx, accountID)
	if err != nil {
		return "", err
	}
	if cur, verified := current(a, kind); verified && (cur == value || (kind == ChannelEmail && EmailKey(cur) == key)) {
		return "", kilt.E(kilt.KindConflict, CodeChannelUnchanged)
	}
	limit, err := h.reg.takeClient(ctx, c, limitKey)
	if err != nil {
		return "", err
	}
	id, err := kilt.NewID()
	if err != nil {
		return "", err
	}
	now := h.clock()
	ch := ChannelChange{ID: id, AccountID: a.ID, Kind: kind, Value: value, Lang: c.Lang, CreatedAt: now, SentAt: now}
	// Both ways are prepared, so that a taken identifier costs the same work as a free one.
	fresh, err := h.message(&ch, now)
	if err != nil {
		return "", err
	}
	err = h.store.InTx(ctx, func(tx Tx) error {
		// The account row is locked first: two changes of one account run one after the other,
		// and only the newer stays pending.
		if _, err := tx.AccountByID(ctx, accountID); err != nil {
			return err
		}
		if err := tx.EndChannelChanges(ctx, accountID, now); err != nil {
			return err
		}
		var owner *Account
		var err error
		if kind == ChannelEmail {
			owner, err = tx.AccountByEmail(ctx, key)
		} else {
			owner, err = tx.AccountByPhone(ctx, value)
		}
		if err != nil && !errors.Is(err, kilt.ErrNotFound) {
			return err
		}
		msg := fresh
		if owner != nil && owner.ID != accountID {
			ch.Decoy, ch.TokenHash, ch.CodeMAC = true, nil, nil
			msg = outbox.Message{Channel: channel, Kind: outbox.ChannelTaken, Lang: owner.Lang, To: owner.Email,
				AccountID: owner.ID, CreatedAt: now}
			if channel == outbox.SMS {
				msg.To = owner.Phone
			}
			msg.SetPayload(outbox.ChannelTakenPayload{Time: now})
		}
		if err := tx.InsertChannelChange(ctx, ch); err != nil {
			return err
		}
		// The audit says the kind only: the account's own trail must not tell it whose the
		// identifier was.
		ev := audit.Event{Type: audit.ChannelChangeRequested, AccountID: accountID, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: kind}
		if channel == outbox.SMS {
			refused, err := h.reg.takeSMS(ctx, tx, limit, now)
			if err != nil {
				return err
			}
			if refused != "" {
				return tx.Audit(ctx, ev)
			}
		}
		if err := tx.Enqueue(ctx, &msg); err != nil {
			return err
		}
		return tx.Audit(ctx, ev)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// message gives ch a new link or code, and returns the message that carries it.
func (h *Channels) message(ch *ChannelChange, now time.Time) (outbox.Message, error) {
	m := outbox.Message{Lang: ch.Lang, To: ch.Value, AccountID: ch.AccountID, CreatedAt: now}
	if ch.Kind == ChannelEmail {
		token, hash, err := kilt.NewToken()
		if err != nil {
			return m, err
		}
		ch.TokenHash, ch.ExpiresAt = hash, now.Add(h.cfg.LinkLifetime)
		m.Channel, m.Kind = outbox.Email, outbox.ChannelLink
		m.SetPayload(outbox.LinkPayload{Link: h.cfg.ConfirmURL + "?token=" + token, Lifetime: h.cfg.LinkLifetime})
		return m, nil
	}
	code, err := kilt.NewCode()
	if err != nil {
		return m, err
	}
	ch.CodeMAC, ch.ExpiresAt = kilt.CodeMAC(h.codeKey, ch.ID, code), now.Add(h.cfg.CodeLifetime)
	m.Channel, m.Kind = outbox.SMS, outbox.ChannelCode
	m.SetPayload(outbox.CodePayload{Code: code, Lifetime: h.cfg.CodeLifetime})
	return m, nil
}

// Pending returns the account's pending change id, for the code page: 410
// channel_change_invalid when there is none.
func (h *Channels) Pending(ctx context.Context, accountID int64, id string) (ChannelChange, error) {
	gone := kilt.E(kilt.KindGone, CodeChannelChangeInvalid)
	if !kilt.WellFormedID(id) {
		return ChannelChange{}, gone
	}
	var ch ChannelChange
	err := h.store.InTx(ctx, func(tx Tx) error {
		var err error
		ch, err = tx.ChannelChange(ctx, id)
		return err
	})
	if errors.Is(err, kilt.ErrNotFound) || (err == nil && (ch.AccountID != accountID || !ch.Pending(h.clock()))) {
		return ChannelChange{}, gone
	}
	ch.TokenHash, ch.CodeMAC = nil, nil
	return ch, err
}

// Current returns the account's pending change, for the account page to lead back to it:
// kilt.ErrNotFound when there is none.
func (h *Channels) Current(ctx context.Context, accountID int64) (ChannelChange, error) {
	now := h.clock()
	var ch ChannelChange
	err := h.store.InTx(ctx, func(tx Tx) error {
		var err error
		ch, err = tx.PendingChannelChange(ctx, accountID, now)
		return err
	})
	if err == nil && !ch.Pending(now) {
		err = kilt.ErrNotFound
	}
	ch.TokenHash, ch.CodeMAC = nil, nil
	return ch, err
}

// ResendIn is how long from now until a new link or code may be asked for ch.
func (h *Channels) ResendIn(ch ChannelChange) time.Duration {
	return max(ch.SentAt.Add(h.cfg.ResendAfter).Sub(h.clock()), 0)
}

// Resend sends a new link or code for the pending change id of the account, after the
// cool-down (429 resend_too_soon with Retry-After before it), within the number's SMS
// limits. The wrong codes counted so far stay counted. A decoy answers the same and sends
// nothing more (its owner was told once).
func (h *Channels) Resend(ctx context.Context, accountID int64, id string, c Client) (ChannelChange, error) {
	gone := kilt.E(kilt.KindGone, CodeChannelChangeInvalid)
	if !kilt.WellFormedID(id) {
		return ChannelChange{}, gone
	}
	now := h.clock()
	var out ChannelChange
	err := h.store.InTx(ctx, func(tx Tx) error {
		ch, err := tx.ChannelChange(ctx, id)
		if err != nil {
			return err
		}
		if ch.AccountID != accountID || !ch.Pending(now) || ch.Attempts >= h.cfg.CodeAttempts {
			return kilt.ErrNotFound
		}
		if wait := ch.SentAt.Add(h.cfg.ResendAfter).Sub(now); wait > 0 {
			return kilt.E(kilt.KindRateLimited, CodeResendTooSoon).WithRetryAfter(wait)
		}
		ch.SentAt = now
		msg, err := h.message(&ch, now)
		if err != nil {
			return err
		}
		if ch.Decoy {
			ch.TokenHash, ch.CodeMAC = nil, nil
		}
		if err := tx.UpdateChannelChange(ctx, ch); err != nil {
			return err
		}
		out = ch
		if ch.Decoy {
			return nil
		}
		if ch.Kind == ChannelPhone {
			refused, err := h.reg.takeSMS(ctx, tx, kilt.KeyedHash(h.reg.keys, "p:"+ch.Value), now)
			if err != nil || refused != "" {
				return err
			}
		}
		return tx.Enqueue(ctx, &msg)
	})
	if errors.Is(err, kilt.ErrNotFound) {
		return ChannelChange{}, gone
	}
	out.TokenHash, out.CodeMAC = nil, nil
	return out, err
}

// Verify completes the phone change id of the account with its code: 200 with the account.
// A wrong code is 422 code_invalid with details.attempts_left (a decoy answers every code
// so); after the last attempt, or for an unknown, expired, completed or superseded change,
// 410 channel_change_invalid.
func (h *Channels) Verify(ctx context.Context, accountID int64, id, code string, c Client) (*Account, error) {
	gone := kilt.E(kilt.KindGone, CodeChannelChangeInvalid)
	if !kilt.WellFormedID(id) {
		return nil, gone
	}
	if !kilt.WellFormedCode(code) {
		return nil, kilt.E(kilt.KindInvalid, CodeCodeFormat)
	}
	now := h.clock()
	mac := kilt.CodeMAC(h.codeKey, id, code)
	var a *Account
	var attempts int
	err := h.store.InTx(ctx, func(tx Tx) error {
		ch, err := tx.ChannelChange(ctx, id)
		if err != nil {
			return err
		}
		if ch.AccountID != accountID || ch.Kind != ChannelPhone || !ch.CompletedAt.IsZero() {
			return kilt.ErrNotFound
		}
		otc := kilt.OneTimeCode{MAC: ch.CodeMAC, Attempts: ch.Attempts, ExpiresAt: ch.ExpiresAt}
		switch kilt.CheckCode(&otc, mac, h.cfg.CodeAttempts, now) {
		case kilt.CodeSpent, kilt.CodeExpired:
			return kilt.ErrNotFound
		case kilt.CodeMatched:
			a, err = h.complete(ctx, tx, ch, now, c)
			return err
		}
		ch.CodeMAC, ch.Attempts, attempts = otc.MAC, otc.Attempts, otc.Attempts
		return tx.UpdateChannelChange(ctx, ch)
	})
	switch {
	case errors.Is(err, kilt.ErrNotFound):
		return nil, gone
	case err != nil:
		return nil, err
	case a != nil:
		return a, nil
	}
	return nil, kilt.E(kilt.KindRule, CodeCodeInvalid).WithDetails("attempts_left", h.cfg.CodeAttempts-attempts)
}

// Confirm completes the e-mail change whose link carried token, signed in as the account
// that asked for it: 200 with the account; 410 channel_change_invalid for an unknown,
// expired, used or superseded link, or one of another account.
func (h *Channels) Confirm(ctx context.Context, accountID int64, token string, c Client) (*Account, error) {
	gone := kilt.E(kilt.KindGone, CodeChannelChangeInvalid)
	if !kilt.WellFormedToken(token) {
		return nil, gone
	}
	now := h.clock()
	var a *Account
	err := h.store.InTx(ctx, func(tx Tx) error {
		ch, err := tx.ChannelChangeByToken(ctx, kilt.HashToken(token))
		if err != nil {
			return err
		}
		if ch.AccountID != accountID || ch.Kind != ChannelEmail || !ch.Pending(now) {
			return kilt.ErrNotFound
		}
		a, err = h.complete(ctx, tx, ch, now, c)
		return err
	})
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, gone
	}
	return a, err
}

// complete applies a verified change in tx: the notices, with a freeze link, to the
// channels verified before it, in the account's language (whoever made the change chose the
// page's); the new identifier set, verified; the old one kept on the
// change for a freeze to revert within RevertWindow; the audit event. An identifier that
// another account took meanwhile ends the change (kilt.ErrNotFound).
func (h *Channels) complete(ctx context.Context, tx Tx, ch ChannelChange, now time.Time, c Client) (*Account, error) {
	if ch.Decoy {
		return nil, kilt.ErrNotFound
	}
	a, err := tx.AccountByID(ctx, ch.AccountID)
	if err != nil {
		return nil, err
	}
	ch.OldValue, ch.OldVerified = current(a, ch.Kind)
	change, event := outbox.ChangeEmailAdded, audit.ChannelAdded
	if ch.OldValue != "" {
		change, event = outbox.ChangeEmailReplaced, audit.ChannelReplaced
	}
	if ch.Kind == ChannelPhone {
		change = map[string]string{outbox.ChangeEmailAdded: outbox.ChangePhoneAdded, outbox.ChangeEmailReplaced: outbox.ChangePhoneReplaced}[change]
	}
	// The check before the write: on PostgreSQL a failed statement would end the transaction.
	var owner *Account
	if ch.Kind == ChannelEmail {
		owner, err = tx.AccountByEmail(ctx, EmailKey(ch.Value))
	} else {
		owner, err = tx.AccountByPhone(ctx, ch.Value)
	}
	if err != nil && !errors.Is(err, kilt.ErrNotFound) {
		return nil, err
	}
	if owner != nil && owner.ID != a.ID {
		return nil, kilt.ErrNotFound
	}
	notices, err := SecurityNotices(ctx, tx, a, h.cfg.FreezeURL, Notice{Kind: outbox.ChannelUpdated, Event: event, At: now,
		Payload: func(link string) outbox.Payload {
			return outbox.ChannelUpdatedPayload{Time: now, Change: change, FreezeURL: link}
		}})
	if err != nil {
		return nil, err
	}
	for _, m := range notices {
		if err := tx.Enqueue(ctx, &m); err != nil {
			return nil, err
		}
	}
	if err := tx.SetChannel(ctx, a.ID, ch.Kind, ch.Value, true, now); err != nil {
		return nil, err
	}
	if err := EndRecoveries(ctx, tx, a.ID, ch.Kind, now); err != nil {
		return nil, err
	}
	ch.CompletedAt, ch.ExpiresAt, ch.TokenHash, ch.CodeMAC = now, now.Add(RevertWindow), nil, nil
	if err := tx.UpdateChannelChange(ctx, ch); err != nil {
		return nil, err
	}
	if err := tx.Audit(ctx, audit.Event{Type: event, AccountID: a.ID, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: ch.Kind}); err != nil {
		return nil, err
	}
	return tx.AccountByID(ctx, a.ID)
}

// Remove removes the account's e-mail address or phone number (kind ChannelEmail or
// ChannelPhone), the current password given again within ReauthValid: 204; 404
// channel_not_found for one the account does not have; 409 last_channel when no verified
// channel would remain. Every channel verified before, the removed one included, gets a
// notice with a freeze link, which would restore it.
func (h *Channels) Remove(ctx context.Context, accountID int64, reauthAt time.Time, kind string, c Client) error {
	if kind != ChannelEmail && kind != ChannelPhone {
		return kilt.E(kilt.KindNotFound, CodeChannelNotFound)
	}
	if err := h.fresh(reauthAt); err != nil {
		return err
	}
	id, err := kilt.NewID()
	if err != nil {
		return err
	}
	now := h.clock()
	return h.store.InTx(ctx, func(tx Tx) error {
		a, err := tx.AccountByID(ctx, accountID)
		if err != nil {
			return err
		}
		value, verified := current(a, kind)
		if value == "" {
			return kilt.E(kilt.KindNotFound, CodeChannelNotFound)
		}
		other, otherVerified := current(a, map[string]string{ChannelEmail: ChannelPhone, ChannelPhone: ChannelEmail}[kind])
		if other == "" || !otherVerified {
			return kilt.E(kilt.KindConflict, CodeLastChannel)
		}
		change := outbox.ChangeEmailRemoved
		if kind == ChannelPhone {
			change = outbox.ChangePhoneRemoved
		}
		notices, err := SecurityNotices(ctx, tx, a, h.cfg.FreezeURL, Notice{Kind: outbox.ChannelUpdated, Event: audit.ChannelRemoved, At: now,
			Payload: func(link string) outbox.Payload {
				return outbox.ChannelUpdatedPayload{Time: now, Change: change, FreezeURL: link}
			}})
		if err != nil {
			return err
		}
		for _, m := range notices {
			if err := tx.Enqueue(ctx, &m); err != nil {
				return err
			}
		}
		if err := tx.EndChannelChanges(ctx, accountID, now); err != nil {
			return err
		}
		if err := tx.SetChannel(ctx, a.ID, kind, "", false, now); err != nil {
			return err
		}
		if err := EndRecoveries(ctx, tx, a.ID, kind, now); err != nil {
			return err
		}
		if err := tx.InsertChannelChange(ctx, ChannelChange{ID: id, AccountID: a.ID, Kind: kind, OldValue: value, OldVerified: verified,
			Lang: c.Lang, CreatedAt: now, SentAt: now, CompletedAt: now, ExpiresAt: now.Add(RevertWindow)}); err != nil {
			return err
		}
		return tx.Audit(ctx, audit.Event{Type: audit.ChannelRemoved, AccountID: a.ID, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: kind})
	})
}

// RecoveryEnder is what EndRecoveries needs of a transaction (this package's Tx, the desk's).
type RecoveryEnder interface {
	UseAllTokens(ctx context.Context, accountID int64, now time.Time) error
	EndAccountFlows(ctx context.Context, accountID int64, now time.Time) error
}

// EndRecoveries ends the recoveries under way through the channel of kind that changed: a
// code sent to a number that is no longer the account's, or a link sent to an address that
// is no longer its, must not set the password afterwards — whoever changed it, the citizen
// or the desk.
func EndRecoveries(ctx context.Context, tx RecoveryEnder, accountID int64, kind string, now time.Time) error {
	if kind == ChannelPhone {
		return tx.EndAccountFlows(ctx, accountID, now)
	}
	return tx.UseAllTokens(ctx, accountID, now)
}
