package api

import (
	"net/http"
	"time"
)

// The account's list of its sessions (SPEC §9): GET /sessions, DELETE /sessions/{id},
// DELETE /sessions/others.

// sessionItemJSON is one session of the list: an opaque id, never the token nor its hash.
type sessionItemJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	Browser    string    `json:"browser"`
	System     string    `json:"system"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

type sessionListJSON struct {
	Sessions []sessionItemJSON `json:"sessions"`
}

// listSessions serves GET /sessions: the account's live sessions, newest first.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	views, err := a.sessions.List(r.Context(), a.token(r))
	if err != nil {
		return err
	}
	out := sessionListJSON{Sessions: make([]sessionItemJSON, 0, len(views))}
	for _, v := range views {
		out.Sessions = append(out.Sessions, sessionItemJSON{ID: v.ID, CreatedAt: v.CreatedAt, LastSeenAt: v.LastSeenAt,
			Browser: v.Browser, System: v.System, IP: v.IP, Current: v.Current})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deleteSession serves DELETE /sessions/{id}: ends one session of the account (404
// session_not_found for an id the account has no session of). Ending the current one signs
// out, and clears the cookie.
func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	current, err := a.sessions.EndOne(r.Context(), a.token(r), r.PathValue("id"), a.sessionClient(r))
	if err != nil {
		return err
	}
	if current {
		a.clearCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type endedJSON struct {
	Ended int64 `json:"ended"`
}

// deleteOtherSessions serves DELETE /sessions/others: ends every session of the account but
// the one asking, and says how many.
func (a *API) deleteOtherSessions(w http.ResponseWriter, r *http.Request) error {
	n, err := a.sessions.EndOthers(r.Context(), a.token(r), a.sessionClient(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endedJSON{Ended: n})
	return nil
}
