package api_test

import (
	"context"
	"net/http"
	"testing"
)

// docLifecycle: the account's list of sessions, its export and its deletion, to every
// documented answer.
func docLifecycle(t *testing.T, e *docEnv) {
	addAccount(t, e.Env, "a@example.kz", "+77011234567", goodPassword)
	tok := docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	other := docLogin(t, e, http.StatusCreated, "8 701 123 45 67", goodPassword)
	third := docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	auth := bearer(tok)

	var list struct {
		Sessions []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"sessions"`
	}
	e.call(t, http.StatusOK, "listSessions", "/api/v1/sessions", nil, auth...).JSON(t, &list)
	if len(list.Sessions) != 3 {
		t.Fatalf("got %d sessions, want 3", len(list.Sessions))
	}
	e.call(t, http.StatusNotAcceptable, "listSessions", "/api/v1/sessions", nil, append(auth, "Accept", "text/html")...)
	e.call(t, http.StatusNotFound, "deleteSession", "/api/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA", nil, auth...)
	var victim string
	for _, s := range list.Sessions {
		if !s.Current {
			victim = s.ID
		}
	}
	e.call(t, http.StatusNoContent, "deleteSession", "/api/v1/sessions/"+victim, nil, auth...)
	var ended struct {
		Ended int `json:"ended"`
	}
	e.call(t, http.StatusOK, "deleteOtherSessions", "/api/v1/sessions/others", nil, auth...).JSON(t, &ended)
	if ended.Ended != 1 {
		t.Errorf("ended %d others, want 1 (of %s, %s one was ended already)", ended.Ended, other[:4], third[:4])
	}

	e.call(t, http.StatusOK, "exportAccount", "/api/v1/account/export", nil, auth...)
	e.call(t, http.StatusNotAcceptable, "exportAccount", "/api/v1/account/export", nil, append(auth, "Accept", "text/html")...)

	e.call(t, http.StatusNotFound, "cancelDeletion", "/api/v1/account/deletion", nil, auth...)
	del := func(want int, pw string) {
		t.Helper()
		e.call(t, want, "deleteAccount", "/api/v1/account", map[string]string{"current_password": pw}, auth...)
	}
	e.call(t, http.StatusBadRequest, "deleteAccount", "/api/v1/account", `{"current_password":""}`, auth...)
	e.call(t, http.StatusBadRequest, "deleteAccount", "/api/v1/account", `{"password":1}`, auth...)
	del(http.StatusAccepted, goodPassword)
	e.Deliver(t) // the first notice first: the link below is the newest mail's
	e.call(t, http.StatusOK, "currentSession", "/api/v1/sessions/current", nil, auth...)
	docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	e.call(t, http.StatusNoContent, "cancelDeletion", "/api/v1/account/deletion", nil, auth...)
	del(http.StatusAccepted, goodPassword)
	link := tokenOf(t, e.LatestLink(t, "a@example.kz", "/deletion/cancel?token="))
	e.call(t, http.StatusBadRequest, "cancelDeletionByLink", "/api/v1/account/deletion/cancel", `{"token":1}`)
	e.call(t, http.StatusNoContent, "cancelDeletionByLink", "/api/v1/account/deletion/cancel", map[string]string{"token": link})
	e.call(t, http.StatusGone, "cancelDeletionByLink", "/api/v1/account/deletion/cancel", map[string]string{"token": link})
	for range 5 {
		del(http.StatusForbidden, "Not-The-One-1")
	}
	del(http.StatusTooManyRequests, goodPassword)

	b := addAccount(t, e.Env, "b@example.kz", "", goodPassword)
	locked := docLogin(t, e, http.StatusCreated, "b@example.kz", goodPassword)
	if err := e.App.Sessions.SetLocked(context.Background(), b.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct{ method, id, path string }{
		{"GET", "listSessions", "/api/v1/sessions"}, {"GET", "exportAccount", "/api/v1/account/export"},
		{"DELETE", "deleteAccount", "/api/v1/account"}, {"DELETE", "cancelDeletion", "/api/v1/account/deletion"},
	} {
		var body any
		if op.id == "deleteAccount" {
			body = map[string]string{"current_password": goodPassword}
		}
		if r := e.call(t, http.StatusForbidden, op.id, op.path, body, bearer(locked)...); r.ErrorCode() != "account_locked" {
			t.Errorf("%s of a locked account: code %q, want account_locked", op.id, r.ErrorCode())
		}
	}
}

// docLifecycleBusy: a deletion whose password cannot be checked for want of a hashing
// worker gets 503, and nothing is scheduled.
func docLifecycleBusy(t *testing.T, e *docEnv) {
	addAccount(t, e.Env, "a@example.kz", "", goodPassword)
	tok := docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	hold, held, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = e.App.Pool.Do(context.Background(), func() { close(held); <-hold })
	}()
	<-held
	e.call(t, http.StatusServiceUnavailable, "deleteAccount", "/api/v1/account", map[string]string{"current_password": goodPassword}, bearer(tok)...)
	close(hold)
	<-done
	e.call(t, http.StatusNotFound, "cancelDeletion", "/api/v1/account/deletion", nil, bearer(tok)...)
}
