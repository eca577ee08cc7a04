package api

import (
	"net/http"

	"kilt/internal/httpx"
)

type freezeRequest struct {
	Token string `json:"token"`
}

// freeze serves POST /freeze: "this wasn't me" with a security notice's freeze token → 204
// (session.Service.Freeze); 410 freeze_link_invalid for an unknown, expired or used one.
func (a *API) freeze(w http.ResponseWriter, r *http.Request) error {
	var req freezeRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.sessions.Freeze(r.Context(), req.Token, a.sessionClient(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
