package web

import (
	"net/http"
	"time"

	"kilt"
	"kilt/internal/account"
)

// The citizen's channels on /account (SPEC §9): add or replace an e-mail address or a phone
// number, verified by a link or a code, and remove one. Every change asks the current
// password again (session.Service.Reauthenticate, valid 5 minutes).

// SetChannels attaches the channel service (SPEC §9; nil: the channel pages answer 404).
func (s *Site) SetChannels(c *account.Channels) { s.channels = c }

// channelCookieLifetime bounds how long a new address's link token waits in its cookie
// between the link's GET and the confirmation page.
const channelCookieLifetime = 15 * time.Minute

// channelCookie holds a new address's link token between the link's GET and the page.
func (s *Site) channelCookie() string { return s.prefixed("__Secure-", "kilt_channel") }

// ChannelPage is /account/channels/{id}: the code of a new number (with resend and its
// countdown), or the message that a link went to a new address (with resend); or the
// message that the change is no longer valid (Gone).
type ChannelPage struct {
	Base
	ID      string
	ByPhone bool
	// To is the new identifier, as the person typed it the page shows it back.
	To       string
	ResendIn int
	Gone     bool
}

// WaitKey is the plural key of the countdown's sentence: a new code, or a new link.
func (p *ChannelPage) WaitKey() string {
	if p.ByPhone {
		return "resend_wait"
	}
	return "channel_link_wait"
}

// ChannelConfirmPage is /account/channels/confirm: the button that confirms a new address's
// link, the message that one must sign in first (SignIn), or that the link is no longer
// valid (Gone).
type ChannelConfirmPage struct {
	Base
	Token  string
	SignIn bool
	Gone   bool
}

func (s *Site) needChannels() error {
	if s.channels == nil {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	return nil
}

// channelViewer is the signed-in viewer of a channel page or form (404 without channels).
func (s *Site) channelViewer(r *http.Request) (*viewer, error) {
	if err := s.needChannels(); err != nil {
		return nil, err
	}
	return signedIn(r)
}

// channelFields are the fields of the account page's form of kind the channel errors concern.
func channelFields(kind string) map[string]string {
	return map[string]string{
		account.CodeChannelUnchanged:  "new_" + kind,
		account.CodeInvalidEmail:      "new_" + kind,
		account.CodeInvalidPhone:      "new_" + kind,
		account.CodePhoneNotSupported: "new_" + kind,
		account.CodeChannelRequired:   "new_" + kind,
		"password_required":           "channel_password_" + kind,
		account.CodeWrongPassword:     "channel_password_" + kind,
	}
}

// startChannel serves POST /account/channels: kind (email or phone), value and the current
// password → 303 to the change's page.
func (s *Site) startChannel(w http.ResponseWriter, r *http.Request) error {
	v, err := s.channelViewer(r)
	if err != nil {
		return err
	}
	var email, phone string
	if k := r.PostForm.Get("kind"); k != account.ChannelEmail && k != account.ChannelPhone {
		r.PostForm.Set("kind", account.ChannelEmail)
	}
	switch r.PostForm.Get("kind") {
	case account.ChannelEmail:
		email = r.PostForm.Get("new_channel")
	case account.ChannelPhone:
		phone = r.PostForm.Get("new_channel")
	}
	if email == "" && phone == "" {
		err = kilt.E(kilt.KindInvalid, account.CodeChannelRequired)
	}
	if err == nil {
		err = s.sessions.Reauthenticate(r.Context(), v.session, r.PostForm.Get("current_password"), s.sessionClient(r))
	}
	var id string
	if err == nil {
		id, err = s.channels.Start(r.Context(), v.account.ID, v.session.ReauthAt, s.accountClient(r), email, phone)
	}
	if err != nil {
		p, perr := s.newAccountPage(w, r)
		if perr != nil {
			return perr
		}
		p.ChannelKind, p.NewChannel = r.PostForm.Get("kind"), r.PostForm.Get("new_channel")
		return s.fail(w, "account", p, err, channelFields(p.ChannelKind))
	}
	s.channels.Wake()
	return redirect(w, r, "/account/channels/"+id)
}

// channelPage serves GET /account/channels/{id}.
func (s *Site) channelPage(w http.ResponseWriter, r *http.Request) error {
	v, err := s.channelViewer(r)
	if err != nil {
		return err
	}
	p := &ChannelPage{Base: s.base(w, r, "title_channel"), ID: r.PathValue("id")}
	ch, err := s.channels.Pending(r.Context(), v.account.ID, p.ID)
	if kilt.ErrorKind(err) == kilt.KindGone {
		p.Gone = true
		return s.render(w, http.StatusGone, "channel", p)
	}
	if err != nil {
		return err
	}
	s.fillChannel(p, ch)
	return s.render(w, http.StatusOK, "channel", p)
}

func (s *Site) fillChannel(p *ChannelPage, ch account.ChannelChange) {
	p.ByPhone, p.To = ch.Kind == account.ChannelPhone, ch.Value
	if p.ByPhone {
		p.To = displayPhone(ch.Value)
	}
	p.ResendIn = int((s.channels.ResendIn(ch) + time.Second - 1) / time.Second)
	key := "channel_link_sent"
	if p.ByPhone {
		key = "channel_code_sent"
	}
	p.Flash = &Notice{Kind: "info", Text: p.T(key, "to", p.To)}
}

// verifyChannel serves POST /account/channels/{id}/verify: the new number's code.
func (s *Site) verifyChannel(w http.ResponseWriter, r *http.Request) error {
	v, err := s.channelViewer(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	_, err = s.channels.Verify(r.Context(), v.account.ID, id, r.PostForm.Get("code"), s.accountClient(r))
	if err == nil {
		s.channels.Wake()
		s.setFlash(w, flashChannelChanged)
		return redirect(w, r, "/account")
	}
	return s.channelFailed(w, r, v.account.ID, id, err)
}

// resendChannel serves POST /account/channels/{id}/resend.
func (s *Site) resendChannel(w http.ResponseWriter, r *http.Request) error {
	v, err := s.channelViewer(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	_, err = s.channels.Resend(r.Context(), v.account.ID, id, s.accountClient(r))
	if err == nil {
		s.channels.Wake()
		return redirect(w, r, "/account/channels/"+id)
	}
	return s.channelFailed(w, r, v.account.ID, id, err)
}

// channelFailed answers a failed code or resend of the pending change id: the code page
// again with err's message, or 410 when the change is gone (used, expired or ended).
func (s *Site) channelFailed(w http.ResponseWriter, r *http.Request, accountID int64, id string, err error) error {
	p := &ChannelPage{Base: s.base(w, r, "title_channel"), ID: id}
	ch, perr := s.channels.Pending(r.Context(), accountID, id)
	if kilt.ErrorKind(err) == kilt.KindGone || perr != nil {
		p.Gone = true
		return s.render(w, http.StatusGone, "channel", p)
	}
	s.fillChannel(p, ch)
	p.Flash = nil
	return s.fail(w, "channel", p, err, nil)
}

// channelConfirmForm serves GET /account/channels/confirm: with ?token= (the link in the new
// address's mail) it moves the token into a short-lived cookie and answers 303 to the clean
// address, changing nothing (mail scanners open links); there it shows the button, the
// token in a hidden field.
func (s *Site) channelConfirmForm(w http.ResponseWriter, r *http.Request) error {
	if err := s.needChannels(); err != nil {
		return err
	}
	secretPage(w)
	if q := r.URL.Query(); q.Has("token") {
		s.setToken(w, s.channelCookie(), "/account/channels/confirm", q.Get("token"), channelCookieLifetime)
		return redirect(w, r, "/account/channels/confirm")
	}
	p := &ChannelConfirmPage{Base: s.base(w, r, "title_channel_confirm")}
	if _, err := signedIn(r); err != nil {
		// The token stays in its cookie: signed in, the person opens the link again.
		p.SignIn = true
		return s.render(w, http.StatusOK, "channel_confirm", p)
	}
	p.Token = s.takeToken(w, r, s.channelCookie(), "/account/channels/confirm")
	if !kilt.WellFormedToken(p.Token) {
		p.Gone = true
		return s.render(w, http.StatusGone, "channel_confirm", p)
	}
	return s.render(w, http.StatusOK, "channel_confirm", p)
}

// channelConfirm serves POST /account/channels/confirm: the link's token.
func (s *Site) channelConfirm(w http.ResponseWriter, r *http.Request) error {
	if err := s.needChannels(); err != nil {
		return err
	}
	secretPage(w)
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	if _, err := s.channels.Confirm(r.Context(), v.account.ID, r.PostForm.Get("token"), s.accountClient(r)); err != nil {
		p := &ChannelConfirmPage{Base: s.base(w, r, "title_channel_confirm"), Gone: kilt.ErrorKind(err) == kilt.KindGone}
		if p.Gone {
			return s.render(w, http.StatusGone, "channel_confirm", p)
		}
		return err
	}
	s.channels.Wake()
	s.setFlash(w, flashChannelChanged)
	return redirect(w, r, "/account")
}

// removeChannel serves POST /account/channels/remove: kind and the current password.
func (s *Site) removeChannel(w http.ResponseWriter, r *http.Request) error {
	v, err := s.channelViewer(r)
	if err != nil {
		return err
	}
	kind := r.PostForm.Get("kind")
	err = s.sessions.Reauthenticate(r.Context(), v.session, r.PostForm.Get("current_password"), s.sessionClient(r))
	if err == nil {
		err = s.channels.Remove(r.Context(), v.account.ID, v.session.ReauthAt, kind, s.accountClient(r))
	}
	if err != nil {
		p, perr := s.newAccountPage(w, r)
		if perr != nil {
			return perr
		}
		p.RemoveKind = kind
		return s.fail(w, "account", p, err, map[string]string{"password_required": "remove_password_" + kind,
			account.CodeWrongPassword: "remove_password_" + kind})
	}
	s.channels.Wake()
	s.setFlash(w, flashChannelRemoved)
	return redirect(w, r, "/account")
}

// ChannelKinds are the account page's two channel kinds, for its template.
func (p *AccountPage) ChannelKinds() []ChannelKind {
	a := p.Account
	return []ChannelKind{
		{Kind: account.ChannelEmail, Value: a.Email, Verified: a.EmailVerified, CanRemove: a.Email != "" && a.Phone != "" && a.PhoneVerified,
			Open: p.ChannelKind == account.ChannelEmail || p.RemoveKind == account.ChannelEmail},
		{Kind: account.ChannelPhone, Value: a.Phone, Verified: a.PhoneVerified, CanRemove: a.Phone != "" && a.Email != "" && a.EmailVerified,
			Open: p.ChannelKind == account.ChannelPhone || p.RemoveKind == account.ChannelPhone},
	}
}

// ChannelKind is one channel on the account page: what it is and what can be done.
type ChannelKind struct {
	Kind      string
	Value     string
	Verified  bool
	CanRemove bool
	// Open: the form of this kind failed and is shown again.
	Open bool
}

// NewField is the field of a new identifier of kind k.
func (p *AccountPage) NewField(k ChannelKind) Field {
	label, typ, auto := "label_new_email", "email", "email"
	if k.Kind == account.ChannelPhone {
		label, typ, auto = "label_new_phone", "tel", "tel"
	}
	value := ""
	if p.ChannelKind == k.Kind {
		value = p.NewChannel
	}
	f := p.Input("new_"+k.Kind, label, typ, auto, value)
	f.Name = "new_channel"
	if k.Kind == account.ChannelPhone {
		f.Hint = p.T("hint_phone")
	}
	return f
}

// ChannelPassword is the current-password field of the form of kind k (add or replace).
func (p *AccountPage) ChannelPassword(k ChannelKind) Field {
	f := p.Password("channel_password_"+k.Kind, "label_current_password", "current-password")
	f.Name = "current_password"
	action := "channel_add_" + k.Kind
	if k.Value != "" {
		action = "channel_replace_" + k.Kind
	}
	f.Eye += " (" + p.T(action) + ")" // each toggle of the page has a name of its own
	return f
}

// RemovePassword is the current-password field of the removal of kind k.
func (p *AccountPage) RemovePassword(k ChannelKind) Field {
	f := p.Password("remove_password_"+k.Kind, "label_current_password", "current-password")
	f.Name = "current_password"
	f.Eye += " (" + p.T("button_remove_"+k.Kind) + ")"
	return f
}
