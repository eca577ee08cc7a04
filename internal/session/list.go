package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"

	"kilt"
	"kilt/internal/audit"
)

// The account's own list of its sessions (SPEC §9): where it is signed in, ending one, and
// ending all but this one.

// CodeSessionNotFound: no session of the account has that id.
const CodeSessionNotFound = "session_not_found"

// View is one session as its account sees it in the list: a public id, never the token or
// its hash; the browser and system; the IP masked.
type View struct {
	// ID is opaque: a keyed hash of the session's row id, so it neither counts sessions nor
	// names anything outside this account's list.
	ID         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Browser    string
	System     string
	IP         string // masked (MaskIP)
	// Current: the session of the request.
	Current bool
}

// publicID is the opaque id of session id.
func (s *Service) publicID(id int64) string {
	m := hmac.New(sha256.New, s.listKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// List returns the live sessions of the account whose session token names, newest first,
// the current one marked: 401 unauthorized if there is no live session.
func (s *Service) List(ctx context.Context, token string) ([]View, error) {
	cur, _, err := s.Current(ctx, token)
	if err != nil {
		return nil, err
	}
	var out []View
	err = s.store.InTx(ctx, func(tx Tx) error {
		all, err := tx.AccountSessions(ctx, cur.AccountID)
		if err != nil {
			return err
		}
		now := s.clock()
		out = out[:0]
		for i := len(all) - 1; i >= 0; i-- {
			sess := all[i]
			if s.ended(&sess, now) {
				continue
			}
			browser, system := Device(sess.UserAgent)
			out = append(out, View{ID: s.publicID(sess.ID), CreatedAt: sess.CreatedAt, LastSeenAt: sess.LastSeenAt,
				Browser: browser, System: system, IP: MaskIP(sess.IP), Current: sess.ID == cur.ID})
		}
		return nil
	})
	return out, err
}

// EndOne ends the session with the public id of the account whose session token names, and
// records it: 404 session_not_found if the account has no such session — another account's
// session id included, which so tells nothing about it. Ending the current session signs
// out; current reports whether it was.
func (s *Service) EndOne(ctx context.Context, token, id string, c Client) (current bool, err error) {
	var answer error
	err = s.store.InTx(ctx, func(tx Tx) error {
		cur, a, err := s.live(ctx, tx, token)
		if answer = a; err != nil || a != nil {
			return err
		}
		all, err := tx.AccountSessions(ctx, cur.AccountID)
		if err != nil {
			return err
		}
		for _, sess := range all {
			// Constant time: the ids of the account's other sessions are not for guessing.
			if hmac.Equal([]byte(s.publicID(sess.ID)), []byte(id)) {
				if _, err := s.end(ctx, tx, cur.AccountID, sess.ID); err != nil {
					return err
				}
				detail := "other session"
				if current = sess.ID == cur.ID; current {
					detail = "this session"
				}
				return tx.RecordAudit(ctx, s.event(audit.SessionRevoked, cur.AccountID, c, detail))
			}
		}
		answer = kilt.E(kilt.KindNotFound, CodeSessionNotFound)
		return nil
	})
	if err != nil {
		return false, err
	}
	return current, answer
}

// EndOthers ends every session of the account whose session token names but that one,
// records it, and reports how many ended: 401 unauthorized if there is no live session.
func (s *Service) EndOthers(ctx context.Context, token string, c Client) (int64, error) {
	var n int64
	var answer error
	err := s.store.InTx(ctx, func(tx Tx) error {
		cur, a, err := s.live(ctx, tx, token)
		if answer = a; err != nil || a != nil {
			return err
		}
		// The session kept keeps its applications: only the ended sessions' tokens go.
		if n, err = s.endAllBut(ctx, tx, cur.AccountID, cur.ID, false); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.event(audit.SessionsRevokedOthers, cur.AccountID, c, itoa(n)+" sessions"))
	})
	if err != nil {
		return 0, err
	}
	return n, answer
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
