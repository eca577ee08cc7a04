package api

import (
	"net/http"

	"kilt/internal/httpx"
	"kilt/internal/outbox"
)

type registerRequest struct {
	Email           string `json:"email"`
	Phone           string `json:"phone"`
	Password        string `json:"password"`
	PasswordConfirm string `json:"password_confirm"`
}

// register serves POST /registrations: the same answer whether or not the identifier
// already has an account (its owner is told so by mail or SMS instead).
func (a *API) register(w http.ResponseWriter, r *http.Request) error {
	var req registerRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	id, ch, err := a.registrations.Register(r.Context(), a.client(r), req.Email, req.Phone, req.Password, req.PasswordConfirm)
	if err != nil {
		return err
	}
	channel := "email"
	if ch == outbox.SMS {
		channel = "sms"
	}
	writeJSON(w, http.StatusAccepted, struct {
		RegistrationID string `json:"registration_id"`
		Channel        string `json:"channel"`
	}{id, channel})
	httpx.AfterResponse(w, a.registrations.Wake)
	return nil
}

type accountResponse struct {
	Account accountJSON `json:"account"`
}

// confirmRegistration serves POST /registrations/confirm: the e-mail link's token and the
// password chosen at registration, which proves the one confirming is the registrant.
func (a *API) confirmRegistration(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	acct, err := a.registrations.Confirm(r.Context(), a.client(r), req.Token, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, accountResponse{Account: newAccountJSON(acct)})
	return nil
}

// verifyRegistration serves POST /registrations/{id}/verify: the SMS code.
func (a *API) verifyRegistration(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Code string `json:"code"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	acct, err := a.registrations.Verify(r.Context(), a.client(r), r.PathValue("id"), req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, accountResponse{Account: newAccountJSON(acct)})
	return nil
}

// resendRegistration serves POST /registrations/{id}/resend: a new SMS code for a phone
// registration once the cool-down is over (the pages' «Кодты қайта жіберу» calls the same
// account.Registrations.Resend).
func (a *API) resendRegistration(w http.ResponseWriter, r *http.Request) error {
	// The body is an empty object: read as strictly as every other, so that no request
	// means two things.
	var req struct{}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	info, err := a.registrations.Resend(r.Context(), a.client(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, struct {
		ResendAfter int `json:"resend_after"`
		ExpiresIn   int `json:"expires_in"`
	}{httpx.Seconds(info.ResendAfter), httpx.Seconds(info.Lifetime)})
	httpx.AfterResponse(w, a.registrations.Wake)
	return nil
}
