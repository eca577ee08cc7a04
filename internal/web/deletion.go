package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"kilt"
	"kilt/internal/account"
)

// "Download my data" and "Delete my account" (SPEC §9) on the account page
// (templates/account_data.html), and the page of the cancel link that the deletion notice
// carries (templates/deletion_cancel.html).

// codeDeletionConfirm: the delete form's "I understand" box was not ticked.
const codeDeletionConfirm = "deletion_confirm_required"

// DeletePassword is the delete form's current-password field: named current_password like
// every such field, with an id of its own (the page has a change-password form too).
func (p *AccountPage) DeletePassword() Field {
	f := p.Password("current_password", "label_current_password", "current-password")
	f.ID, f.Errors = "delete_password", p.fieldErrors["delete_password"]
	f.Eye += " (" + p.T("button_delete_account") + ")" // each toggle of the page has a name of its own
	return f
}

// DeleteConfirmErrors are the messages of the delete form's confirmation box.
func (p *AccountPage) DeleteConfirmErrors() []string { return p.fieldErrors["delete_confirm"] }

// deleteForm is the delete form.
type deleteForm struct {
	CurrentPassword string
	Confirmed       bool
}

func readDeleteForm(r *http.Request) deleteForm {
	return deleteForm{CurrentPassword: r.PostForm.Get("current_password"), Confirmed: r.PostForm.Get("confirm") == "yes"}
}

// Validate refuses a form whose box is not ticked: deleting is not done by a slip of the
// finger on Enter.
func (f deleteForm) Validate() error {
	if !f.Confirmed {
		return kilt.E(kilt.KindInvalid, codeDeletionConfirm)
	}
	return nil
}

// deleteFields are the delete form's fields of each error.
var deleteFields = map[string]string{account.CodeWrongPassword: "delete_password",
	account.CodePasswordRequired: "delete_password", codeDeletionConfirm: "delete_confirm"}

// exportAccount serves GET /account/export: "Download my data", the JSON the API's
// GET /api/v1/account/export gives, as a file.
func (s *Site) exportAccount(w http.ResponseWriter, r *http.Request) error {
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	out, err := s.accounts.Export(r.Context(), v.account.ID)
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="kilt-account-%d.json"`, v.account.ID))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(append(body, '\n'))
	return err
}

// deleteAccount serves POST /account/delete: the current password and the ticked box
// schedule the deletion; the account page then shows the date and the cancel button.
func (s *Site) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	f := readDeleteForm(r)
	err = f.Validate()
	if err == nil {
		_, err = s.accounts.RequestDeletion(r.Context(), v.account.ID, f.CurrentPassword, s.accountClient(r))
	}
	if err != nil {
		p, perr := s.newAccountPage(w, r)
		if perr != nil {
			return perr
		}
		return s.fail(w, "account", p, err, deleteFields)
	}
	s.setFlash(w, flashDeletionScheduled)
	return redirect(w, r, "/account")
}

// cancelDeletion serves POST /account/deletion/cancel: the signed-in owner keeps the account.
func (s *Site) cancelDeletion(w http.ResponseWriter, r *http.Request) error {
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	err = s.accounts.CancelDeletion(r.Context(), v.account.ID, s.accountClient(r))
	if err != nil && kilt.ErrorCode(err) != account.CodeDeletionNotScheduled {
		return err
	}
	// Not scheduled (cancelled already, by the link or another tab): the account stays all
	// the same, which is what the button asked for.
	s.setFlash(w, flashDeletionCancelled)
	return redirect(w, r, "/account")
}

// DeletionCancelPage is /deletion/cancel: the button that cancels a deletion by its link's
// token, or the message that the link is no longer valid (Gone), or that it worked (Done).
type DeletionCancelPage struct {
	Base
	Token string
	Gone  bool
	Done  bool
}

// deletionCancelPath is the cancel link's page.
const deletionCancelPath = "/deletion/cancel"

// deletionCancelForm serves GET /deletion/cancel. With ?token= (the notice's link) it changes
// nothing — mail scanners open links — and moves the token into a cookie for the redirect to
// the clean URL, as the recovery link does (package doc). The clean page shows the button.
func (s *Site) deletionCancelForm(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	if q := r.URL.Query(); q.Has("token") {
		s.setToken(w, s.deletionCookie(), deletionCancelPath, q.Get("token"), tokenCookieLifetime)
		return redirect(w, r, deletionCancelPath)
	}
	p := &DeletionCancelPage{Base: s.base(w, r, "title_deletion_cancel"),
		Token: s.takeToken(w, r, s.deletionCookie(), deletionCancelPath)}
	err := s.accounts.CheckDeletionLink(r.Context(), p.Token)
	if kilt.ErrorKind(err) == kilt.KindGone {
		return s.deletionGone(w, p)
	}
	if err != nil {
		return err
	}
	p.LangForm = &LangForm{Action: deletionCancelPath, Hidden: []Hidden{{"token", p.Token}}}
	return s.render(w, http.StatusOK, "deletion_cancel", p)
}

// tokenCookieLifetime is how long the cancel link's token waits in its cookie for the
// redirect that follows at once.
const tokenCookieLifetime = 10 * time.Minute

func (s *Site) deletionCookie() string { return s.prefixed("__Secure-", "kilt_deletion") }

func (s *Site) deletionGone(w http.ResponseWriter, p *DeletionCancelPage) error {
	p.Token, p.Gone, p.LangForm = "", true, nil
	p.Error = s.message(p.Lang, account.CodeDeletionLinkInvalid)
	return s.render(w, http.StatusGone, "deletion_cancel", p)
}

// deletionCancel serves POST /deletion/cancel: the link's token cancels the deletion, or,
// from the language switch (a lang field), the page is shown again in that language.
func (s *Site) deletionCancel(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	p := &DeletionCancelPage{Base: s.base(w, r, "title_deletion_cancel"), Token: r.PostForm.Get("token")}
	if r.PostForm.Has("lang") {
		if err := s.accounts.CheckDeletionLink(r.Context(), p.Token); err != nil {
			if kilt.ErrorKind(err) == kilt.KindGone {
				return s.deletionGone(w, p)
			}
			return err
		}
		p.LangForm = &LangForm{Action: deletionCancelPath, Hidden: []Hidden{{"token", p.Token}}}
		return s.render(w, http.StatusOK, "deletion_cancel", p)
	}
	err := s.accounts.CancelDeletionByLink(r.Context(), p.Token, s.accountClient(r))
	if kilt.ErrorKind(err) == kilt.KindGone {
		return s.deletionGone(w, p)
	}
	if err != nil {
		return err
	}
	p.Token, p.Done = "", true
	return s.render(w, http.StatusOK, "deletion_cancel", p)
}
