package api_test

import (
	"net/http"
	"testing"
	"time"

	"kilt/internal/kilttest"
)

// docChannels drives the channel calls and the freeze to every documented answer (SPEC §9).
func docChannels(t *testing.T, e *docEnv) {
	addAccount(t, e.Env, "ch@example.kz", "", goodPassword)
	tok := docLogin(t, e, http.StatusCreated, "ch@example.kz", goodPassword)
	const path = "/api/v1/account/channels"
	start := func(want int, body map[string]string) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "startChannelChange", path, body, bearer(tok)...)
	}
	id := func(r *kilttest.Response) string {
		var out struct {
			ID string `json:"channel_change_id"`
		}
		r.JSON(t, &out)
		return out.ID
	}
	e.call(t, http.StatusBadRequest, "startChannelChange", path, `{"email":1}`, bearer(tok)...)
	if r := start(http.StatusBadRequest, map[string]string{"email": "new@example.kz"}); r.ErrorCode() != "password_required" {
		t.Errorf("no current password: %q", r.ErrorCode())
	}
	if r := start(http.StatusForbidden, map[string]string{"email": "new@example.kz", "current_password": "Wrong-Guess-11"}); r.ErrorCode() != "current_password_incorrect" {
		t.Errorf("wrong current password: %q", r.ErrorCode())
	}
	if r := start(http.StatusConflict, map[string]string{"email": "CH@example.kz", "current_password": goodPassword}); r.ErrorCode() != "channel_unchanged" {
		t.Errorf("the account's own address: %q", r.ErrorCode())
	}

	// A phone by code: resend too soon, a malformed and a wrong code, the right one, then gone.
	phone := id(start(http.StatusAccepted, map[string]string{"phone": "+7 707 123 45 67"}))
	e.call(t, http.StatusTooManyRequests, "resendChannelChange", path+"/"+phone+"/resend", nil, bearer(tok)...)
	verify := func(want int, code string) {
		t.Helper()
		e.call(t, want, "verifyChannelChange", path+"/"+phone+"/verify", map[string]string{"code": code}, bearer(tok)...)
	}
	e.call(t, http.StatusBadRequest, "verifyChannelChange", path+"/"+phone+"/verify", `{"code":"12"}`, bearer(tok)...)
	code := e.LatestCode(t, "+77071234567")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	verify(http.StatusUnprocessableEntity, wrong)
	verify(http.StatusOK, code)
	verify(http.StatusGone, code)
	e.call(t, http.StatusGone, "resendChannelChange", path+"/"+phone+"/resend", nil, bearer(tok)...)

	// An address by link; a resend after the cool-down.
	mail := id(start(http.StatusAccepted, map[string]string{"email": "new@example.kz"}))
	e.Deliver(t)
	e.Clock.Advance(61 * time.Second)
	e.call(t, http.StatusBadRequest, "resendChannelChange", path+"/"+mail+"/resend", `{"x":1}`, bearer(tok)...)
	e.call(t, http.StatusAccepted, "resendChannelChange", path+"/"+mail+"/resend", nil, bearer(tok)...)
	link := tokenOf(t, e.LatestLink(t, "new@example.kz", "/account/channels/confirm?token="))
	confirm := func(want int, body any) {
		t.Helper()
		e.call(t, want, "confirmChannelChange", path+"/confirm", body, bearer(tok)...)
	}
	confirm(http.StatusBadRequest, `{"token":1}`)
	confirm(http.StatusOK, map[string]string{"token": link})
	confirm(http.StatusGone, map[string]string{"token": link})

	// Removal: wrong password, a malformed body, the phone removed, then not there, and the
	// e-mail refused as the last channel.
	remove := func(want int, kind string, body any) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "removeChannel", path+"/"+kind, body, bearer(tok)...)
	}
	remove(http.StatusBadRequest, "phone", `{"current_password":1}`)
	remove(http.StatusForbidden, "phone", map[string]string{"current_password": "Wrong-Guess-12"})
	remove(http.StatusNoContent, "phone", map[string]string{"current_password": goodPassword})
	if r := remove(http.StatusNotFound, "phone", map[string]string{}); r.ErrorCode() != "channel_not_found" {
		t.Errorf("removing a channel the account lacks: %q", r.ErrorCode())
	}
	if r := remove(http.StatusConflict, "email", map[string]string{}); r.ErrorCode() != "last_channel" {
		t.Errorf("removing the last channel: %q", r.ErrorCode())
	}

	// Wrong current passwords count under the account's slow-down.
	addAccount(t, e.Env, "slow@example.kz", "", goodPassword)
	slow := docLogin(t, e, http.StatusCreated, "slow@example.kz", goodPassword)
	for range 5 {
		e.call(t, http.StatusForbidden, "startChannelChange", path, map[string]string{"email": "x@example.kz", "current_password": "Wrong-Guess-13"}, bearer(slow)...)
	}
	if r := e.call(t, http.StatusTooManyRequests, "startChannelChange", path, map[string]string{"email": "x@example.kz", "current_password": goodPassword}, bearer(slow)...); r.ErrorCode() != "login_throttled" {
		t.Errorf("over the slow-down: %q", r.ErrorCode())
	}

	// The freeze link of the notices.
	freeze := tokenOf(t, e.LatestLink(t, "new@example.kz", "/freeze?token="))
	e.call(t, http.StatusBadRequest, "freeze", "/api/v1/freeze", `{"token":1}`)
	e.call(t, http.StatusNoContent, "freeze", "/api/v1/freeze", map[string]string{"token": freeze})
	e.call(t, http.StatusGone, "freeze", "/api/v1/freeze", map[string]string{"token": freeze})
}
