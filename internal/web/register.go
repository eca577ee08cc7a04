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

// confirmCookieLifetime bounds the cookie that carries a registration link's token over the
// redirect to the clean /register/confirm (the link itself lives longer).
const confirmCookieLifetime = 15 * time.Minute

func (s *Site) registerPage(w http.ResponseWriter, r *http.Request, byPhone bool) *RegisterPage {
	p := &RegisterPage{Base: s.base(w, r, "title_register"), ByPhone: byPhone}
	p.NoHistory = true
	p.EmailURL, p.PhoneURL = "/register", "/register?by=phone"
	if byPhone {
		p.relink("/register", url.Values{"by": {"phone"}})
	}
	return p
}

// registerForm serves GET /register: by e-mail, or by phone with ?by=phone (two tabs that
// are links, so they work without JavaScript).
func (s *Site) registerForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, http.StatusOK, "register", s.registerPage(w, r, r.URL.Query().Get("by") == "phone"))
}

// register serves POST /register. By e-mail it leads to the page saying a link was sent;
// by phone to the code step. An identifier that already has an account gets the same
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
	fields := map[string]string{account.CodeChannelRequired: "email"}
	if byPhone {
		fields[account.CodeChannelRequired] = "phone"
	}
	id, ch, err := s.registrations.Register(r.Context(), s.accountClient(r), email, phone,
		r.PostForm.Get("password"), r.PostForm.Get("password_confirm"))
	if err != nil {
		return s.fail(w, "register", p, err, fields)
	}
	if ch == outbox.SMS {
		redirect(w, r, withQuery("/register/confirm", url.Values{"id": {id}}))
	} else {
		addr, _ := account.ParseEmail(email)
		s.setSentTo(w, "/register/sent", maskEmail(addr))
		redirect(w, r, "/register/sent")
	}
	httpx.AfterResponse(w, s.registrations.Wake)
	return nil
}

// registerSent serves GET /register/sent: where the link went (masked), how long it lasts,
// and what to do when it does not come.
func (s *Site) registerSent(w http.ResponseWriter, r *http.Request) error {
	p := &RegisterSentPage{Base: s.base(w, r, "title_register_sent")}
	p.Sent = sentLink(p.Lang, s.sentTo(r), "/register", s.registrations.Config().LinkLifetime)
	return s.render(w, http.StatusOK, "register_sent", p)
}

// registerConfirmForm serves GET /register/confirm. With ?token= (the e-mail link) it
// changes nothing: it moves the token into a cookie and sends the browser to the clean URL,
// whose page shows a button that posts it. With ?id= (a phone registration) it shows the
// code step: where the code went, the field, the resend button.
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
		info, err := s.registrations.Code(r.Context(), id)
		if kilt.ErrorKind(err) == kilt.KindGone {
			return s.confirmGone(w, p)
		}
		if err != nil {
			return err
		}
		p.Flash = &Notice{Kind: "info", Text: p.T("register_code_sent")}
		s.registrationCode(p, info)
		return s.render(w, http.StatusOK, "register_confirm", p)
	}
	secretPage(w)
	p.Token = s.takeToken(w, r, s.confirmCookie(), "/register/confirm")
	if !kilt.WellFormedToken(p.Token) {
		return s.confirmGone(w, p)
	}
	return s.renderConfirm(w, http.StatusOK, p)
}

// renderConfirm shows the e-mail link's form: its language switch posts the token back, since
// a link would lose it (the token left the address bar and the cookie).
func (s *Site) renderConfirm(w http.ResponseWriter, status int, p *RegisterConfirmPage) error {
	p.LangForm = &LangForm{Action: "/register/confirm", Hidden: []Hidden{{"token", p.Token}}}
	return s.render(w, status, "register_confirm", p)
}

// registrationCode sets the code step of phone registration p.ID from info.
func (s *Site) registrationCode(p *RegisterConfirmPage, info account.CodeInfo) {
	c := &p.Code
	c.Verify, c.Resend, c.Hidden = "/register/verify", "/register/resend", []Hidden{{"id", p.ID}}
	c.Sent = sentCode(p.Lang, maskPhone(info.Number), "/register?by=phone", info.Lifetime)
	c.Spent = c.Spent || info.Spent
	s.countdown(c, s.cfg.Clock().Add(info.ResendAfter), s.registrations.Config().ResendCooldown)
	if c.Spent && p.Error == "" {
		p.Error = p.T("code_spent")
	}
	p.relink("/register/confirm", url.Values{"id": {p.ID}})
}

// registerConfirm serves POST /register/confirm: the e-mail link's token and the password
// chosen at registration create the account; then to sign in. A wrong password shows the
// form again, the token kept in its hidden field, the password never written back. A post
// of the token alone with a language is the language switch: the same form in it.
func (s *Site) registerConfirm(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	p := &RegisterConfirmPage{Base: s.base(w, r, "title_register_confirm"), Token: r.PostForm.Get("token")}
	if !r.PostForm.Has("password") && explicitLang(r) != "" {
		if !kilt.WellFormedToken(p.Token) {
			return s.confirmGone(w, p)
		}
		return s.renderConfirm(w, http.StatusOK, p)
	}
	if _, err := s.registrations.Confirm(r.Context(), s.accountClient(r), p.Token, r.PostForm.Get("password")); err != nil {
		if kilt.ErrorKind(err) == kilt.KindGone {
			return s.confirmGone(w, p)
		}
		p.LangForm = &LangForm{Action: "/register/confirm", Hidden: []Hidden{{"token", p.Token}}}
		return s.fail(w, "register_confirm", p, err, nil)
	}
	s.setFlash(w, flashRegistered)
	return redirect(w, r, "/login")
}

// registerVerify serves POST /register/verify: the SMS code creates the account; then to
// sign in. A wrong code shows the step again; the last wrong one replaces the field by
// "send a new code".
func (s *Site) registerVerify(w http.ResponseWriter, r *http.Request) error {
	p := &RegisterConfirmPage{Base: s.base(w, r, "title_register_confirm"), ID: r.PostForm.Get("id")}
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	_, err := s.registrations.Verify(r.Context(), s.accountClient(r), p.ID, code)
	if err == nil {
		s.setFlash(w, flashRegistered)
		return redirect(w, r, "/login")
	}
	return s.failCode(w, r, p, err)
}

// registerResend serves POST /register/resend: a new code after the cool-down, then the code
// step again (303, so a reload sends nothing); before it, the step with the seconds left
// (429).
func (s *Site) registerResend(w http.ResponseWriter, r *http.Request) error {
	p := &RegisterConfirmPage{Base: s.base(w, r, "title_register_confirm"), ID: r.PostForm.Get("id")}
	if _, err := s.registrations.Resend(r.Context(), s.accountClient(r), p.ID); err != nil {
		return s.failCode(w, r, p, err)
	}
	redirect(w, r, withQuery("/register/confirm", url.Values{"id": {p.ID}}))
	httpx.AfterResponse(w, s.registrations.Wake)
	return nil
}

// failCode shows err on the code step of phone registration p.ID.
func (s *Site) failCode(w http.ResponseWriter, r *http.Request, p *RegisterConfirmPage, err error) error {
	info, ierr := s.registrations.Code(r.Context(), p.ID)
	if kilt.ErrorKind(ierr) == kilt.KindGone {
		return s.confirmGone(w, p)
	}
	if ierr != nil {
		return ierr
	}
	// A code posted again after it was used up (a second tab, the back button) is refused as
	// gone, but the registration lives: it still offers a new code.
	if spent(err) || kilt.ErrorKind(err) == kilt.KindGone && info.Spent {
		p.Code.Spent = true
		s.registrationCode(p, info)
		return s.render(w, http.StatusUnprocessableEntity, "register_confirm", p)
	}
	if e, ok := kilt.AsError(err); ok && e.RetryAfter > 0 {
		info.ResendAfter = e.RetryAfter
	}
	s.registrationCode(p, info)
	return s.fail(w, "register_confirm", p, err, nil)
}

// confirmGone answers for a registration link or code that is unknown, expired, used or
// superseded: its own heading, one message, and the way to register again.
func (s *Site) confirmGone(w http.ResponseWriter, p *RegisterConfirmPage) error {
	p.Token, p.ID, p.Gone, p.LangForm = "", "", true, nil
	p.Title = p.T("title_registration_gone")
	p.Error = s.message(p.Lang, account.CodeRegistrationInvalid)
	p.relink("/register/confirm", nil)
	return s.render(w, http.StatusGone, "register_confirm", p)
}
