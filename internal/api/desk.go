package api

import (
	"net/http"

	"kilt"
	"kilt/internal/desk"
	"kilt/internal/httpx"
)

// SetDesk enables POST /recovery/desk: the slip code a service-centre operator printed
// exchanged for a reset token.
func (a *API) SetDesk(d *desk.Service) { a.desk = d }

type deskResponse struct {
	ResetToken string `json:"reset_token"`
}

// recoveryDesk serves POST /recovery/desk {"code"} → 200 {"reset_token"}; a wrong, used or
// expired code is 410 desk_code_invalid, the sixth wrong one from an IP in an hour 429.
func (a *API) recoveryDesk(w http.ResponseWriter, r *http.Request) error {
	if a.desk == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	c := a.client(r)
	token, err := a.desk.RedeemSlip(r.Context(), desk.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}, req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deskResponse{ResetToken: token})
	return nil
}
