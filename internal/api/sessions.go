package api

import (
	"net/http"
	"time"

	"kilt/internal/account"
	"kilt/internal/httpx"
	"kilt/internal/session"
)

// accountJSON is an account as the API shows it: never its password hash.
type accountJSON struct {
	ID            int64     `json:"id"`
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"email_verified"`
	Phone         string    `json:"phone,omitempty"`
	PhoneVerified bool      `json:"phone_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

func newAccountJSON(a *account.Account) accountJSON {
	return accountJSON{ID: a.ID, Email: a.Email, EmailVerified: a.EmailVerified, Phone: a.Phone,
		PhoneVerified: a.PhoneVerified, CreatedAt: a.CreatedAt}
}

// sessionJSON is a session as the API shows it: never its token.
type sessionJSON struct {
	ID            int64     `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

func (a *API) newSessionJSON(s *session.Session) sessionJSON {
	return sessionJSON{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, IdleExpiresAt: a.sessions.IdleExpiresAt(s)}
}

type loginRequest struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
}

type loginResponse struct {
	Session sessionJSON `json:"session"`
	Account accountJSON `json:"account"`
	Token   string      `json:"token"`
	// Deletion is the account's pending deletion (deletion.go), absent if none.
	Deletion *deletionJSON `json:"deletion,omitempty"`
}

// createSession serves POST /sessions: sign in. The session the client already had ends
// and a new token is issued (session.Service.SignIn).
func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	in, err := a.sessions.SignIn(r.Context(), req.Identifier, req.Password, a.token(r), a.sessionClient(r))
	if err != nil {
		return err
	}
	del, err := a.pendingDeletion(r, in.Account.ID)
	if err != nil {
		return err
	}
	a.setCookie(w, in.Token)
	writeJSON(w, http.StatusCreated, loginResponse{Session: a.newSessionJSON(in.Session), Account: newAccountJSON(in.Account),
		Token: in.Token, Deletion: del})
	return nil
}

type currentResponse struct {
	Session  sessionJSON   `json:"session"`
	Account  accountJSON   `json:"account"`
	Deletion *deletionJSON `json:"deletion,omitempty"`
}

// currentSession serves GET /sessions/current: who is signed in.
func (a *API) currentSession(w http.ResponseWriter, r *http.Request) error {
	sess, acct, err := a.current(r)
	if err != nil {
		return err
	}
	del, err := a.pendingDeletion(r, acct.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, currentResponse{Session: a.newSessionJSON(sess), Account: newAccountJSON(acct), Deletion: del})
	return nil
}

// deleteCurrentSession serves DELETE /sessions/current: sign out.
func (a *API) deleteCurrentSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessions.SignOut(r.Context(), a.token(r), a.sessionClient(r)); err != nil {
		return err
	}
	a.clearCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteAllSessions serves DELETE /sessions: sign out everywhere.
func (a *API) deleteAllSessions(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.sessions.SignOutAll(r.Context(), a.token(r), a.sessionClient(r)); err != nil {
		return err
	}
	a.clearCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setCookie sets the session cookie: host-only, whole site, not readable by scripts, not sent
// on cross-site subrequests; a browser-session cookie, so closing the browser on a shared
// computer signs out.
func (a *API) setCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: a.cfg.CookieName, Value: token, Path: "/", HttpOnly: true,
		Secure: a.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

func (a *API) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: a.cfg.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: a.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}
