package account

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"kilt"
	"kilt/internal/audit"
	"kilt/internal/outbox"
)

// Deleting an account (SPEC §9). The citizen asks with the current password; the account
// lives on through a grace period (DeletionConfig.Grace), announced on every verified
// channel with a single-use cancel link; signing in shows the date and a cancel button, and
// either way cancels. Once the grace has passed, the retention job calls EraseDue, which
// erases the account's identifiers, password hash and history, sessions, links, flows,
// messages and single sign-on grants, and leaves the audit trail with only the account id,
// the kinds of event and their times. The properties and their tests are in
// docs/security.md ("Account deletion").

// Error codes of deletion.
const (
	// CodeDeletionNotScheduled: a cancel without a pending deletion.
	CodeDeletionNotScheduled = "deletion_not_scheduled"
	// CodeDeletionLinkInvalid: a cancel link that is invalid, used, past its deletion's
	// date, or whose deletion was cancelled otherwise (one answer for all).
	CodeDeletionLinkInvalid = "deletion_link_invalid"
)

// Deletion is an account's pending (or done) deletion.
type Deletion struct {
	AccountID   int64
	RequestedAt time.Time
	// DueAt is when the retention job erases the account.
	DueAt time.Time
	// ErasedAt is when it did (zero while pending).
	ErasedAt time.Time
}

// Pending reports whether the deletion is still to come (it can be cancelled).
func (d *Deletion) Pending() bool { return d != nil && d.ErasedAt.IsZero() }

// DeletionConfig configures deletion.
type DeletionConfig struct {
	// Grace is how long an account lives after its deletion was asked for; default
	// DefaultDeletionGrace.
	Grace time.Duration
	// CancelURL is the page of the cancel link (BASE_URL/account/deletion/cancel); the
	// link is CancelURL?token=….
	CancelURL string
}

// DefaultDeletionGrace is 14 days.
const DefaultDeletionGrace = 14 * 24 * time.Hour

// deletionTx is what deletion needs of a transaction (part of Tx).
type deletionTx interface {
	// InsertDeletion records d with the hash of its cancel link; kilt.KindConflict if the
	// account already has one.
	InsertDeletion(ctx context.Context, d Deletion, cancelHash []byte) error
	// DeletionOf returns the account's deletion (pending or done), or kilt.ErrNotFound.
	DeletionOf(ctx context.Context, accountID int64) (*Deletion, error)
	// CancelDeletion deletes the account's pending deletion and reports whether there was one.
	CancelDeletion(ctx context.Context, accountID int64) (bool, error)
	// CancelDeletionByHash deletes the pending deletion whose cancel link has that hash and
	// is not yet due at now, and returns its account id; kilt.ErrNotFound if there is none
	// (single use: of two transactions racing for one link, one finds it).
	CancelDeletionByHash(ctx context.Context, cancelHash []byte, now time.Time) (int64, error)
	// LiveCancelHash reports whether a pending deletion not yet due at now has that cancel
	// hash, changing nothing.
	LiveCancelHash(ctx context.Context, cancelHash []byte, now time.Time) (bool, error)
	// ClaimDueDeletions returns up to limit accounts whose deletion is due at now and not
	// yet erased, locking them; rows another transaction holds are skipped, not waited for.
	ClaimDueDeletions(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// EraseAccount erases everything of the account but its id and the kinds and times of
	// its audit events, and marks its deletion erased at now.
	EraseAccount(ctx context.Context, accountID int64, now time.Time) error
}

// deletionCancelHash is the hash of a cancel token kept at rest.
func deletionCancelHash(token string) []byte { return kilt.HashToken(token) }

// RequestDeletion schedules the deletion of the signed-in account after checking its
// current password (a wrong one counts towards the same slow-down as a change of password,
// and gets 403 current_password_incorrect). The notices with the cancel link go to every
// verified channel in the same transaction. An account whose deletion is already pending
// gets that deletion back, and no new notice.
func (s *Service) RequestDeletion(ctx context.Context, accountID int64, current string, c Client) (*Deletion, error) {
	if _, err := s.checkCurrentPassword(ctx, accountID, current); err != nil {
		return nil, err
	}
	token, hash, err := kilt.NewToken()
	if err != nil {
		return nil, err
	}
	var out *Deletion
	err = s.store.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		a, err := tx.AccountByID(ctx, accountID)
		if err != nil {
			return err
		}
		d, err := tx.DeletionOf(ctx, accountID)
		if err == nil && d.Pending() {
			out = d
			return nil
		}
		if err != nil && !errors.Is(err, kilt.ErrNotFound) {
			return err
		}
		d = &Deletion{AccountID: accountID, RequestedAt: now, DueAt: now.Add(s.grace())}
		if err := tx.InsertDeletion(ctx, *d, hash); err != nil {
			return err
		}
		notices, err := s.deletionNotices(ctx, tx, a, c.Lang, token, d.DueAt, now)
		if err != nil {
			return err
		}
		for _, m := range notices {
			if err := tx.Enqueue(ctx, &m); err != nil {
				return err
			}
		}
		out = d
		return tx.Audit(ctx, audit.Event{Type: audit.DeletionRequested, AccountID: accountID, IP: c.IP,
			UserAgent: c.UserAgent, Detail: "due " + d.DueAt.UTC().Format(time.RFC3339), At: now})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkCurrentPassword checks the signed-in account's current password and returns the
// account: a change of password and a deletion ask for it alike. The attempt is counted
// under the account's slow-down key before the check (a burst of guesses is counted in
// full) and cleared after a right one; a wrong one is 403 current_password_incorrect.
func (s *Service) checkCurrentPassword(ctx context.Context, accountID int64, current string) (*Account, error) {
	if current == "" {
		return nil, kilt.E(kilt.KindInvalid, CodePasswordRequired)
	}
	if utf8.RuneCountInString(current) > s.policy.MaxLength {
		return nil, kilt.E(kilt.KindForbidden, CodeWrongPassword)
	}
	a, err := s.store.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	key := s.throttleKey(a, Identifier{})
	if err := s.countAttempt(ctx, key); err != nil {
		return nil, err
	}
	ok, _, err := s.hasher.Verify(ctx, current, a.PasswordHash)
	if err != nil {
		return nil, s.uncount(ctx, key, err)
	}
	if !ok {
		return nil, kilt.E(kilt.KindForbidden, CodeWrongPassword)
	}
	return a, s.store.ClearLoginThrottle(ctx, key)
}

// DeletionGrace is how long an account lives after its deletion was asked for.
func (s *Service) DeletionGrace() time.Duration { return s.grace() }

func (s *Service) grace() time.Duration {
	if s.cfg.Deletion.Grace > 0 {
		return s.cfg.Deletion.Grace
	}
	return DefaultDeletionGrace
}

// deletionNotices are the "your account will be deleted" messages, one to every verified
// channel, each with the date, the cancel link and the freeze link of every security notice
// (whose freeze also cancels the deletion). The links are the message's secret part, erased
// from the outbox once delivered.
func (s *Service) deletionNotices(ctx context.Context, tx Tx, a *Account, lang, token string, due, now time.Time) ([]outbox.Message, error) {
	cancel := s.cfg.Deletion.CancelURL + "?token=" + token
	return SecurityNotices(ctx, tx, a, s.cfg.FreezeURL, Notice{Kind: outbox.DeletionScheduled, Event: audit.DeletionRequested,
		Lang: lang, At: now, Payload: func(link string) outbox.Payload {
			return outbox.DeletionPayload{CancelLink: cancel, DueAt: due, FreezeURL: link}
		}})
}

// DeletionOf returns the account's pending deletion, or nil if none is pending.
func (s *Service) DeletionOf(ctx context.Context, accountID int64) (*Deletion, error) {
	d, err := s.store.DeletionOf(ctx, accountID)
	if errors.Is(err, kilt.ErrNotFound) || (err == nil && !d.Pending()) {
		return nil, nil
	}
	return d, err
}

// CancelDeletion cancels the signed-in account's pending deletion: 404
// deletion_not_scheduled if there is none. The cancel link dies with it.
func (s *Service) CancelDeletion(ctx context.Context, accountID int64, c Client) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		ok, err := tx.CancelDeletion(ctx, accountID)
		if err != nil {
			return err
		}
		if !ok {
			return kilt.E(kilt.KindNotFound, CodeDeletionNotScheduled)
		}
		return tx.Audit(ctx, audit.Event{Type: audit.DeletionCancelled, AccountID: accountID, IP: c.IP,
			UserAgent: c.UserAgent, Detail: "signed in", At: s.clock()})
	})
}

// CheckDeletionLink reports whether token is a live cancel link, changing nothing (a GET of
// the link: mail scanners open links). It returns 410 deletion_link_invalid if not.
func (s *Service) CheckDeletionLink(ctx context.Context, token string) error {
	if !kilt.WellFormedToken(token) {
		return kilt.E(kilt.KindGone, CodeDeletionLinkInvalid)
	}
	var live bool
	err := s.store.InTx(ctx, func(tx Tx) (err error) {
		live, err = tx.LiveCancelHash(ctx, deletionCancelHash(token), s.clock())
		return err
	})
	if err == nil && !live {
		return kilt.E(kilt.KindGone, CodeDeletionLinkInvalid)
	}
	return err
}

// CancelDeletionByLink cancels the deletion whose cancel link token is: single use, and only
// before the deletion is due. An invalid, used or expired link gets 410 link_invalid. It
// signs nobody in.
func (s *Service) CancelDeletionByLink(ctx context.Context, token string, c Client) error {
	if !kilt.WellFormedToken(token) {
		return kilt.E(kilt.KindGone, CodeDeletionLinkInvalid)
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		id, err := tx.CancelDeletionByHash(ctx, deletionCancelHash(token), now)
		if errors.Is(err, kilt.ErrNotFound) {
			return kilt.E(kilt.KindGone, CodeDeletionLinkInvalid)
		}
		if err != nil {
			return err
		}
		return tx.Audit(ctx, audit.Event{Type: audit.DeletionCancelled, AccountID: id, IP: c.IP,
			UserAgent: c.UserAgent, Detail: "link", At: now})
	})
}

// EraseDue erases up to limit accounts whose deletion is due, in one transaction, and
// reports how many it erased. Several instances may call it at once: an account is claimed
// by one transaction (the others skip it), and an erased one is never due again, so each
// is erased, and its erasure recorded, once.
func (s *Service) EraseDue(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		ids, err := tx.ClaimDueDeletions(ctx, now, limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			// The sessions end the one way sessions end, so the applications that had one
			// get their back-channel logout before the account's grants go.
			if err := s.endSessions(ctx, tx, id, 0); err != nil {
				return err
			}
			if err := tx.EraseAccount(ctx, id, now); err != nil {
				return err
			}
			if err := tx.Audit(ctx, audit.Event{Type: audit.AccountErased, AccountID: id, At: now}); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}
