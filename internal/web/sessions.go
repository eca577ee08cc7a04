package web

import (
	"net/http"
	"time"

	"kilt/internal/audit"
	"kilt/internal/i18n"
	"kilt/internal/session"
)

// The account page's list of sessions (SPEC §9): where the account is signed in, "this
// device", ending one, ending all others. The section's markup is
// templates/account_sessions.html.

// AccountLifecycle is what the account page shows of the account's sessions, export and
// deletion (account_sessions.html, account_data.html).
type AccountLifecycle struct {
	Sessions []SessionView
	// Deletion is the pending deletion, nil for none.
	Deletion *DeletionView
	// GraceDays is how many days a deletion waits (KILT_DELETION_GRACE, rounded up).
	GraceDays int
}

// SessionView is one session of the list.
type SessionView struct {
	ID       string // opaque, for the end button
	Device   string // "Chrome · Android", or a word for unknown
	IP       string // masked
	Created  string
	LastSeen string
	// CreatedISO and LastSeenISO are RFC 3339, for <time datetime>.
	CreatedISO, LastSeenISO string
	Current                 bool
}

// DeletionView is a pending deletion: the date the account goes.
type DeletionView struct {
	When     string
	Datetime string
}

// Flashes of the sessions and deletion forms.
const (
	flashSessionEnded       flash = "session_ended"
	flashOtherSessionsEnded flash = "other_sessions_ended"
	flashDeletionScheduled  flash = "deletion_scheduled"
	flashDeletionCancelled  flash = "deletion_cancelled"
)

func init() {
	// Kept here rather than in cookies.go's table so this file's flashes travel with it.
	flashes[flashSessionEnded] = struct{ kind, key string }{"success", "flash_session_ended"}
	flashes[flashOtherSessionsEnded] = struct{ kind, key string }{"success", "flash_other_sessions_ended"}
	flashes[flashDeletionScheduled] = struct{ kind, key string }{"info", "flash_deletion_scheduled"}
	flashes[flashDeletionCancelled] = struct{ kind, key string }{"success", "flash_deletion_cancelled"}
}

// fillLifecycle puts the account's sessions and pending deletion on the account page.
func (s *Site) fillLifecycle(r *http.Request, p *AccountPage) error {
	views, err := s.sessions.List(r.Context(), s.sessionToken(r))
	if err != nil {
		return err
	}
	for _, v := range views {
		p.Sessions = append(p.Sessions, s.sessionView(p.Lang, v))
	}
	grace := s.accounts.DeletionGrace()
	p.GraceDays = int((grace + 24*time.Hour - 1) / (24 * time.Hour))
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	d, err := s.accounts.DeletionOf(r.Context(), v.account.ID)
	if err != nil || d == nil {
		return err
	}
	p.Deletion = &DeletionView{When: s.when(p.Lang, d.DueAt), Datetime: d.DueAt.Format(time.RFC3339)}
	return nil
}

// when is t for reading in lang, in the configured zone (localTime).
func (s *Site) when(lang string, t time.Time) string { return localTime(lang, t.In(s.cfg.Location)) }

func (s *Site) sessionView(lang string, v session.View) SessionView {
	device := v.Browser
	switch {
	case v.Browser != "" && v.System != "":
		device = v.Browser + " · " + v.System
	case v.Browser == "":
		device = v.System
	}
	if device == "" {
		device = i18n.T(lang, "session_unknown_device")
	}
	return SessionView{ID: v.ID, Device: device, IP: v.IP, Current: v.Current,
		Created: s.when(lang, v.CreatedAt), CreatedISO: v.CreatedAt.Format(time.RFC3339),
		LastSeen: s.when(lang, v.LastSeenAt), LastSeenISO: v.LastSeenAt.Format(time.RFC3339)}
}

// sessionToken is the request's session cookie ("" for none).
func (s *Site) sessionToken(r *http.Request) string {
	if c, err := r.Cookie(s.cfg.CookieName); err == nil {
		return c.Value
	}
	return ""
}

// endSession serves POST /account/sessions/end: ends the session named by the form's
// session field. Ending this device's session signs out.
func (s *Site) endSession(w http.ResponseWriter, r *http.Request) error {
	if _, err := signedIn(r); err != nil {
		return err
	}
	current, err := s.sessions.EndOne(r.Context(), s.sessionToken(r), r.PostForm.Get("session"), s.sessionClient(r))
	if err != nil {
		return err
	}
	if current {
		s.clearCookie(w, s.cfg.CookieName, "/")
		s.setFlash(w, flashSignedOut)
		return redirect(w, r, "/login")
	}
	s.setFlash(w, flashSessionEnded)
	return redirect(w, r, "/account")
}

// endOtherSessions serves POST /account/sessions/end-others: every session but this one.
func (s *Site) endOtherSessions(w http.ResponseWriter, r *http.Request) error {
	if _, err := signedIn(r); err != nil {
		return err
	}
	if _, err := s.sessions.EndOthers(r.Context(), s.sessionToken(r), s.sessionClient(r)); err != nil {
		return err
	}
	s.setFlash(w, flashOtherSessionsEnded)
	return redirect(w, r, "/account")
}

func init() {
	// The events of the sessions list and of deletion, by name on the account page.
	for _, e := range []string{audit.SessionsRevokedOthers, audit.DeletionRequested, audit.DeletionCancelled, audit.AccountErased} {
		eventTypes[e] = true
	}
}
