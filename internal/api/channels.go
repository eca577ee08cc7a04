package api

import (
	"bytes"
	"io"
	"net/http"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/httpx"
)

// The citizen's channels (SPEC §9): add or replace an e-mail address or phone number,
// verified by a link or a code; remove one. Every change gives the current password again
// (session.Service.Reauthenticate), valid 5 minutes.

// SetChannels attaches the channel service (nil: the calls answer 404).
func (a *API) SetChannels(c *account.Channels) { a.channels = c }

type channelRequest struct {
	Email           string `json:"email"`
	Phone           string `json:"phone"`
	CurrentPassword string `json:"current_password"`
}

type channelChangeResponse struct {
	ChannelChangeID string `json:"channel_change_id"`
	// ResendIn is the seconds before a new link or code may be asked for.
	ResendIn int `json:"resend_in"`
}

// startChannelChange serves POST /account/channels: 202 {channel_change_id}.
func (a *API) startChannelChange(w http.ResponseWriter, r *http.Request) error {
	if a.channels == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	var req channelRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.sessions.Reauthenticate(r.Context(), sess, req.CurrentPassword, a.sessionClient(r)); err != nil {
		return err
	}
	id, err := a.channels.Start(r.Context(), sess.AccountID, sess.ReauthAt, a.client(r), req.Email, req.Phone)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, channelChangeResponse{ChannelChangeID: id,
		ResendIn: int(a.channels.Config().ResendAfter.Seconds())})
	a.channels.Wake()
	return nil
}

type channelConfirmRequest struct {
	Token string `json:"token"`
}

// confirmChannelChange serves POST /account/channels/confirm: the new address's link, signed
// in as the account that asked → 200 the account.
func (a *API) confirmChannelChange(w http.ResponseWriter, r *http.Request) error {
	if a.channels == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	var req channelConfirmRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	acct, err := a.channels.Confirm(r.Context(), sess.AccountID, req.Token, a.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newAccountJSON(acct))
	a.channels.Wake()
	return nil
}

type channelVerifyRequest struct {
	Code string `json:"code"`
}

// verifyChannelChange serves POST /account/channels/{id}/verify: the new number's code →
// 200 the account.
func (a *API) verifyChannelChange(w http.ResponseWriter, r *http.Request) error {
	if a.channels == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	var req channelVerifyRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	acct, err := a.channels.Verify(r.Context(), sess.AccountID, r.PathValue("id"), req.Code, a.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newAccountJSON(acct))
	a.channels.Wake()
	return nil
}

// resendChannelChange serves POST /account/channels/{id}/resend: a new link or code after
// the cool-down → 202.
func (a *API) resendChannelChange(w http.ResponseWriter, r *http.Request) error {
	if a.channels == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	// The body is empty or an empty JSON object.
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, httpx.MaxBody))
	if err != nil {
		return kilt.E(kilt.KindInvalid, httpx.CodeTooLarge)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := httpx.Unmarshal(body, &struct{}{}); err != nil {
			return err
		}
	}
	ch, err := a.channels.Resend(r.Context(), sess.AccountID, r.PathValue("id"), a.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, channelChangeResponse{ChannelChangeID: ch.ID,
		ResendIn: int(a.channels.ResendIn(ch).Seconds())})
	a.channels.Wake()
	return nil
}

type passwordOnlyRequest struct {
	CurrentPassword string `json:"current_password"`
}

// removeChannel serves DELETE /account/channels/email|phone → 204.
func (a *API) removeChannel(w http.ResponseWriter, r *http.Request) error {
	if a.channels == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	kind := r.PathValue("kind")
	if kind != account.ChannelEmail && kind != account.ChannelPhone {
		return kilt.E(kilt.KindNotFound, account.CodeChannelNotFound)
	}
	var req passwordOnlyRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.sessions.Reauthenticate(r.Context(), sess, req.CurrentPassword, a.sessionClient(r)); err != nil {
		return err
	}
	if err := a.channels.Remove(r.Context(), sess.AccountID, sess.ReauthAt, kind, a.client(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	a.channels.Wake()
	return nil
}
