package session

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/outbox"
)

// Re-authentication and "this wasn't me" (SPEC §9): the session-side rules of the citizen's
// own account. The freeze is here because ending every session of an account is this
// package's: Freeze ends them on the same path as sign out everywhere.

// Reauthenticate checks the current password of the session's account again, for a change
// that asks for it (account.ReauthValid): on success the session records the time
// (sess.ReauthAt). An empty password is enough while the last answer is fresh, and 400
// password_required otherwise. A wrong password is 403 current_password_incorrect and counts
// under the account's slow-down, the one a change of password counts under ("a:ID"), so
// guesses through either feed one count; over it, 429 login_throttled.
func (s *Service) Reauthenticate(ctx context.Context, sess *Session, pw string, c Client) error {
	now := s.clock()
	if pw == "" {
		if !sess.ReauthAt.IsZero() && now.Sub(sess.ReauthAt) <= account.ReauthValid {
			return nil
		}
		return kilt.E(kilt.KindInvalid, CodePasswordRequired)
	}
	if utf8.RuneCountInString(pw) > s.policy.MaxLength {
		return kilt.E(kilt.KindForbidden, account.CodeWrongPassword)
	}
	key := "a:" + strconv.FormatInt(sess.AccountID, 10)
	var a *account.Account
	var answer error
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if a, err = tx.AccountByID(ctx, sess.AccountID); err != nil {
			return err
		}
		ts, err := tx.ThrottlesForUpdate(ctx, []string{key})
		if err != nil {
			return err
		}
		if wait := s.cfg.PerClient.wait(ts[0], now); wait > 0 {
			answer = kilt.E(kilt.KindRateLimited, CodeLoginThrottled).WithRetryAfter(wait)
			return nil
		}
		// Counted before the check, so that parallel guesses are all counted.
		return tx.PutThrottles(ctx, []string{key}, []Throttle{s.cfg.PerClient.count(ts[0], now)})
	})
	if err != nil {
		return err
	}
	if answer != nil {
		return answer
	}
	ok, _, err := s.hasher.Verify(ctx, pw, a.PasswordHash)
	if err != nil {
		return err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if !ok {
			answer = kilt.E(kilt.KindForbidden, account.CodeWrongPassword)
			return tx.RecordAudit(ctx, s.event(audit.ReauthFailed, sess.AccountID, c, ""))
		}
		if err := tx.DeleteThrottles(ctx, []string{key}); err != nil {
			return err
		}
		return tx.SetReauth(ctx, sess.ID, now)
	})
	if err != nil {
		return err
	}
	if answer != nil {
		return answer
	}
	sess.ReauthAt = now
	return nil
}

// Freeze uses the freeze link whose token is given ("this wasn't me"), in one transaction:
// the token is consumed (single use: of two uses, one finds it), every session of the
// account ends (the path of sign out everywhere; the single sign-on's refresh tokens die
// with their sessions), every link, code, pending channel change, slip code and other freeze
// link dies, a pending deletion is cancelled, the channel changes of account.RevertWindow
// are reverted — newest first, so each kind ends as it was before the oldest of them, which
// is the channel that received the notice — and the account is frozen: sign-in is refused with 403 account_frozen until a
// password reset through a channel that got the notice. It signs nobody in. Unknown, expired
// and used links get 410 freeze_link_invalid.
func (s *Service) Freeze(ctx context.Context, token string, c Client) error {
	gone := kilt.E(kilt.KindGone, account.CodeFreezeInvalid)
	if !kilt.WellFormedToken(token) {
		return gone
	}
	now := s.clock()
	err := s.store.InTx(ctx, func(tx Tx) error {
		ft, err := tx.UseFreezeToken(ctx, kilt.HashToken(token), now)
		if err != nil {
			return err
		}
		a, err := tx.AccountByID(ctx, ft.AccountID)
		if err != nil {
			return err
		}
		// The account row first: a reset, which also locks it first, then waits for the
		// freeze instead of deadlocking with it over the recovery tokens (PostgreSQL).
		trusted := trust(a, ft.Channels)
		if err := tx.SetFrozen(ctx, a.ID, now, trusted); err != nil {
			return err
		}
		changes, err := tx.CompletedChannelChanges(ctx, a.ID, now.Add(-account.RevertWindow))
		if err != nil {
			return err
		}
		reverted := 0
		channels := map[string]string{account.ChannelEmail: a.Email, account.ChannelPhone: a.Phone}
		other := map[string]string{account.ChannelEmail: account.ChannelPhone, account.ChannelPhone: account.ChannelEmail}
		for _, ch := range changes { // newest first
			value, verified := ch.OldValue, ch.OldVerified
			if value != "" {
				// The old identifier may have gone to another account meanwhile: then the
				// channel stays empty rather than take it back.
				var owner *account.Account
				if ch.Kind == account.ChannelEmail {
					owner, err = tx.AccountByEmailKey(ctx, account.EmailKey(value))
				} else {
					owner, err = tx.AccountByPhone(ctx, value)
				}
				if err != nil && !errors.Is(err, kilt.ErrNotFound) {
					return err
				}
				if owner != nil && owner.ID != a.ID {
					value, verified = "", false
				}
			}
			// An account keeps at least one identifier: a revert that would leave none (the
			// old one went to another account) leaves this one.
			if value == "" && channels[other[ch.Kind]] == "" {
				continue
			}
			if err := tx.RevertChannelChange(ctx, a.ID, ch, value, verified, now); err != nil {
				return err
			}
			channels[ch.Kind] = value
			reverted++
		}
		if err := tx.KillAccountSecrets(ctx, a.ID, now); err != nil {
			return err
		}
		// A deletion asked for by whoever held the password is not the owner's: the freeze
		// cancels it (the deletion notice carries the freeze link beside its cancel link).
		cancelled, err := tx.CancelDeletion(ctx, a.ID)
		if err != nil {
			return err
		}
		if err := tx.UseAllTokens(ctx, a.ID, now); err != nil {
			return err
		}
		if err := tx.EndAccountFlows(ctx, a.ID, now); err != nil {
			return err
		}
		n, err := s.EndAccount(ctx, tx, a.ID, 0)
		if err != nil {
			return err
		}
		// The channels a reset may lift it through are told it happened and how to go on:
		// whoever used the link (the owner, or someone it leaked to), the owner learns.
		cur, err := tx.AccountByID(ctx, a.ID)
		if err != nil {
			return err
		}
		for _, m := range s.frozenNotices(cur, trusted, now) {
			if err := tx.Enqueue(ctx, &m); err != nil {
				return err
			}
		}
		detail := "after " + ft.Event + "; " + strconv.FormatInt(n, 10) + " sessions ended, " +
			strconv.Itoa(reverted) + " channel changes reverted"
		if cancelled {
			detail += ", deletion cancelled"
		}
		return tx.RecordAudit(ctx, s.event(audit.AccountFrozen, a.ID, c, detail))
	})
	if errors.Is(err, kilt.ErrNotFound) {
		return gone
	}
	return err
}

// trust is what a freeze trusts to lift it: the channels of the notice, plus those an
// earlier freeze of the account trusted (a second notice must not take the first one's
// owner's way back away).
func trust(a *account.Account, channels string) string {
	set := strings.Fields(channels)
	if a.Frozen() {
		for _, ch := range strings.Fields(a.FrozenTrust) {
			if !strings.Contains(channels, ch) {
				set = append(set, ch)
			}
		}
	}
	return strings.Join(set, " ")
}

// frozen is the answer to a sign-in with the right password to a frozen account.
func frozen() error { return kilt.E(kilt.KindForbidden, CodeAccountFrozen) }

// ReauthFresh reports whether sess gave its password again within account.ReauthValid.
func (s *Service) ReauthFresh(sess *Session) bool {
	return !sess.ReauthAt.IsZero() && s.clock().Sub(sess.ReauthAt) <= account.ReauthValid
}

// frozenNotices are the notices of a freeze to a's verified channels among trusted.
func (s *Service) frozenNotices(a *account.Account, trusted string, now time.Time) []outbox.Message {
	var out []outbox.Message
	add := func(ch outbox.Channel, to string) {
		m := outbox.Message{Channel: ch, Kind: outbox.AccountFrozen, Lang: a.Lang, To: to, AccountID: a.ID, CreatedAt: now}
		m.SetPayload(outbox.AccountFrozenPayload{Time: now, RecoveryURL: s.cfg.RecoveryURL})
		out = append(out, m)
	}
	set := strings.Fields(trusted)
	if a.Email != "" && a.EmailVerified && slices.Contains(set, account.ChannelEmail) {
		add(outbox.Email, a.Email)
	}
	if a.Phone != "" && a.PhoneVerified && slices.Contains(set, account.ChannelPhone) {
		add(outbox.SMS, a.Phone)
	}
	return out
}
