package api

import (
	"net/http"

	"kilt/internal/httpx"
)

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	Password        string `json:"password"`
	PasswordConfirm string `json:"password_confirm"`
}

// changePassword serves POST /password: a signed-in change of password. Every other session
// of the account ends; this one stays.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	var req changePasswordRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.accounts.ChangePassword(r.Context(), sess.AccountID, sess.ID, req.CurrentPassword, req.Password,
		req.PasswordConfirm, a.client(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
