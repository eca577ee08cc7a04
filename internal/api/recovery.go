package api

import (
	"net/http"

	"kilt/internal/httpx"
	"kilt/internal/recovery"
)

// The neutral answers of recovery: the same whether or not the identifier has an account.
const (
	msgEmailSent = "recovery_email_sent"
	msgPhoneSent = "recovery_phone_sent"
)

func (a *API) recoveryClient(r *http.Request) recovery.Client {
	c := a.client(r)
	return recovery.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}
}

type messageResponse struct {
	Message string `json:"message"`
}

// recoveryEmail serves POST /recovery/email.
func (a *API) recoveryEmail(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email string `json:"email"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	c := a.recoveryClient(r)
	if err := a.recovery.RequestEmail(r.Context(), c, req.Email); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, messageResponse{Message: a.message(c.Lang, msgEmailSent)})
	httpx.AfterResponse(w, a.recovery.Wake)
	return nil
}

type flowResponse struct {
	FlowID      string `json:"flow_id,omitempty"`
	Message     string `json:"message"`
	ResendAfter int    `json:"resend_after"`
	ExpiresIn   int    `json:"expires_in"`
}

func (a *API) flowResponse(lang string, f recovery.FlowInfo) flowResponse {
	return flowResponse{FlowID: f.ID, Message: a.message(lang, msgPhoneSent),
		ResendAfter: httpx.Seconds(f.ResendAfter), ExpiresIn: httpx.Seconds(f.ExpiresIn)}
}

// recoveryPhone serves POST /recovery/phone.
func (a *API) recoveryPhone(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Phone string `json:"phone"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	c := a.recoveryClient(r)
	f, err := a.recovery.RequestPhone(r.Context(), c, req.Phone)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, a.flowResponse(c.Lang, f))
	httpx.AfterResponse(w, a.recovery.Wake)
	return nil
}

// recoveryResend serves POST /recovery/phone/resend.
func (a *API) recoveryResend(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		FlowID string `json:"flow_id"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	c := a.recoveryClient(r)
	f, err := a.recovery.Resend(r.Context(), c, req.FlowID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, a.flowResponse(c.Lang, f))
	httpx.AfterResponse(w, a.recovery.Wake)
	return nil
}

// recoveryVerify serves POST /recovery/phone/verify.
func (a *API) recoveryVerify(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		FlowID string `json:"flow_id"`
		Code   string `json:"code"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	token, err := a.recovery.Verify(r.Context(), a.recoveryClient(r), req.FlowID, req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		ResetToken string `json:"reset_token"`
	}{token})
	return nil
}

// recoveryReset serves POST /recovery/reset.
func (a *API) recoveryReset(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token           string `json:"token"`
		Password        string `json:"password"`
		PasswordConfirm string `json:"password_confirm"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.recovery.Reset(r.Context(), a.recoveryClient(r), req.Token, req.Password, req.PasswordConfirm); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
