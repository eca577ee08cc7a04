package api

import (
	"fmt"
	"net/http"
	"time"

	"kilt/internal/account"
	"kilt/internal/httpx"
)

// Export and deletion of the account (SPEC §9): GET /account/export, DELETE /account,
// DELETE /account/deletion (cancel, signed in), POST /account/deletion/cancel (the link).

// deletionJSON is a pending deletion: when it was asked for and when the account is erased.
type deletionJSON struct {
	RequestedAt time.Time `json:"requested_at"`
	DueAt       time.Time `json:"due_at"`
}

func newDeletionJSON(d *account.Deletion) *deletionJSON {
	if d == nil {
		return nil
	}
	return &deletionJSON{RequestedAt: d.RequestedAt, DueAt: d.DueAt}
}

// pendingDeletion is the account's pending deletion for a response (nil: none), which tells
// a client that signs in during the grace period when the account goes.
func (a *API) pendingDeletion(r *http.Request, accountID int64) (*deletionJSON, error) {
	d, err := a.accounts.DeletionOf(r.Context(), accountID)
	if err != nil {
		return nil, err
	}
	return newDeletionJSON(d), nil
}

// exportAccount serves GET /account/export: the account's data as a JSON attachment.
func (a *API) exportAccount(w http.ResponseWriter, r *http.Request) error {
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	out, err := a.accounts.Export(r.Context(), sess.AccountID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="kilt-account-%d.json"`, sess.AccountID))
	writeJSON(w, http.StatusOK, out)
	return nil
}

type deleteAccountRequest struct {
	CurrentPassword string `json:"current_password"`
}

type deletionResponse struct {
	Deletion *deletionJSON `json:"deletion"`
}

// deleteAccount serves DELETE /account: schedules the deletion after the grace period,
// announced on every verified channel with a cancel link.
func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	var req deleteAccountRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	d, err := a.accounts.RequestDeletion(r.Context(), sess.AccountID, req.CurrentPassword, a.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, deletionResponse{Deletion: newDeletionJSON(d)})
	return nil
}

// cancelDeletion serves DELETE /account/deletion: the signed-in owner keeps the account.
func (a *API) cancelDeletion(w http.ResponseWriter, r *http.Request) error {
	sess, _, err := a.current(r)
	if err != nil {
		return err
	}
	if err := a.accounts.CancelDeletion(r.Context(), sess.AccountID, a.client(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type tokenRequest struct {
	Token string `json:"token"`
}

// cancelDeletionByLink serves POST /account/deletion/cancel: the token of the cancel link
// keeps the account (single use; 410 deletion_link_invalid otherwise). It signs nobody in.
func (a *API) cancelDeletionByLink(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.accounts.CancelDeletionByLink(r.Context(), req.Token, a.client(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
