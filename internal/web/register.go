package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/httpx"
	"kilt/internal/outbox"
)

// consentField is the registration form's consent checkbox: its value is the version of
// the consent text shown, as the API's consent_version.
const consentField = "consent_version"

// confirmCookieLifetime bounds the cookie that carries a registration link's token over the
// redirect to the clean /register/confirm (the link itself lives longer).
const confirmCookieLifetime = 15 * time.Minute

func (s *Site) registerPage(w http.ResponseWriter, r *http.Request, byPhone bool) *RegisterPage {
	p := &RegisterPage{Base: s.base(w, r, "title_register"), ByPhone: byPhone}
	p.EmailURL, p.PhoneURL = "/register", "/register?by=phone"
	p.Consent.Version, p.Consent.Text = s.registrations.Consent(p.Lang)
	p.Consent.Checked = r.Method == http.MethodPost && r.PostForm.Get(consentField) == p.Consent.Version
	return p
}

// registerForm serves GET /register: by e-mail, or by phone with ?by=phone (two tabs that
// are links, so they work without JavaScript).
func (s *Site) registerForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, http.StatusOK, "register", s.registerPage(w, r, r.URL.Query().Get("by") == "phone"))
}

// register serves POST /register. By e-mail it leads to the page saying a link was sent;
// by phone to the code field. An identifier that already has an account gets the same
// answer (its owner is told by mail or SMS instead).
func (s *Site) register(w http.ResponseWriter, r *http.Request) error {
	byPhone := r.PostForm.Get("by") == "phone"
	p := s.registerPage(w, r, byPhone)
	var email, phone string
	if byPhone {
		phone = r.PostForm.Get("phone")
		p.Phone = phone
	} else {
		email = r.PostForm.Get("email")
		p.Email = email
	}
	fields := map[string]string{account.CodeChannelRequired: "email", account.CodeConsentRequired: consentField}
	if byPhone {
		fields[account.CodeChannelRequired] = "phone"
	}
	id, ch, err := s.registrations.Register(r.Context(), s.accountClient(r), email, phone,
		r.PostForm.Get("password"), r.PostForm.Get("password_confirm"), r.PostForm.Get(consentField))
	if err != nil {
		return s.fail(w, "register", p, err, fields)
	}
	if ch == outbox.SMS {
		redirect(w, r, withQuery("/register/confirm", url.Values{"id": {id}}))
	} else {
		redirect(w, r, "/register/sent")
	}
	httpx.AfterResponse(w, s.registrations.Wake)
	return nil
}

// registerSent serves GET /register/sent.
func (s *Site) registerSent(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, http.StatusOK, "register_sent", &RegisterSentPage{Base: s.base(w, r, "title_register_sent")})
}

// registerConfirmForm serves GET /register/confirm. With ?token= (the e-mail link) it
// changes nothing: it moves the token into a cookie and sends the browser to the clean URL,
// whose page shows a button that posts it. With ?id= (a phone registration) it shows the
// code field.
func (s *Site) registerConfirmForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Has("token") {
		secretPage(w)
		s.setToken(w, s.confirmCookie(), "/register/confirm", q.Get("token"), confirmCookieLifetime)
		return redirect(w, r, "/register/confirm")
	}
	p := &RegisterConfirmPage{Base: s.base(w, r, "title_register_confirm")}
	if id := q.Get("id"); id != "" {
		p.ID = id
		if !kilt.WellFormedID(id) {
			return s.confirmGone(w, p)
		}
		p.Flash = &Notice{Kind: "info", Text: p.T("register_code_sent")}
		return s.render(w, http.StatusOK, "register_confirm", p)
	}
	secretPage(w)
	p.Token = s.takeToken(w, r, s.confirmCookie(), "/register/confirm")
	if !kilt.WellFormedToken(p.Token) {
		return s.confirmGone(w, p)
	}
	return s.render(w, http.StatusOK, "register_confirm", p)
}

// registerConfirm serves POST /register/confirm: the e-mail link's token and the password
// chosen at registration create the account; then to sign in. A wrong password shows the
// form again, the token kept in its hidden field, the password never written back.
func (s *Site) registerConfirm(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	p := &RegisterConfirmPage{Base: s.base(w, r, "title_register_confirm"), Token: r.PostForm.Get("token")}
	if _, err := s.registrations.Confirm(r.Context(), s.accountClient(r), p.Token, r.PostForm.Get("password")); err != nil {
		if kilt.ErrorKind(err) == kilt.KindGone {
			return s.confirmGone(w, p)
		}
		return s.fail(w, "register_confirm", p, err, nil)
	}
	s.setFlash(w, flashRegistered)
	return redirect(w, r, "/login")
}

// registerVerify serves POST /register/verify: the SMS code creates the account; then to
// sign in.
func (s *Site) registerVerify(w http.ResponseWriter, r *http.Request) error {
	p := &RegisterConfirmPage{Base: s.base(w, r, "title_register_confirm"), ID: r.PostForm.Get("id")}
	if kilt.WellFormedID(p.ID) {
		p.relink("/register/confirm", url.Values{"id": {p.ID}})
	}
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	if _, err := s.registrations.Verify(r.Context(), s.accountClient(r), p.ID, code); err != nil {
		if kilt.ErrorKind(err) == kilt.KindGone {
			return s.confirmGone(w, p)
		}
		return s.fail(w, "register_confirm", p, err, nil)
	}
	s.setFlash(w, flashRegistered)
	return redirect(w, r, "/login")
}

// confirmGone answers for a registration link or code that is unknown, expired, used or
// superseded: one message, and the way to register again.
func (s *Site) confirmGone(w http.ResponseWriter, p *RegisterConfirmPage) error {
	p.Token, p.ID, p.Gone = "", "", true
	p.Error = s.message(p.Lang, account.CodeRegistrationInvalid)
	return s.render(w, http.StatusGone, "register_confirm", p)
}
