package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"kilt"
	"kilt/internal/httpx"
	"kilt/internal/recovery"
)

// The neutral answers of recovery: the same whether or not the identifier has an account.
const (
	msgEmailSent = "recovery_email_sent"
	msgPhoneSent = "recovery_phone_sent"
)

// recoveryChoice serves GET /recovery: the manual's two ways, by e-mail or by phone.
func (s *Site) recoveryChoice(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, http.StatusOK, "recovery", &RecoveryPage{Base: s.base(w, r, "title_recovery")})
}

// recoveryEmailForm serves GET /recovery/email.
func (s *Site) recoveryEmailForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, http.StatusOK, "recovery_email", &RecoveryEmailPage{Base: s.base(w, r, "title_recovery_email")})
}

// recoveryEmail serves POST /recovery/email: «Жіберу». Whether or not the address has an
// account, the answer is the neutral message (after a redirect, so a reload asks nothing).
func (s *Site) recoveryEmail(w http.ResponseWriter, r *http.Request) error {
	p := &RecoveryEmailPage{Base: s.base(w, r, "title_recovery_email"), Email: r.PostForm.Get("email")}
	if err := s.recovery.RequestEmail(r.Context(), s.recoveryClient(r), p.Email); err != nil {
		return s.fail(w, "recovery_email", p, err, nil)
	}
	redirect(w, r, "/recovery/email/sent")
	httpx.AfterResponse(w, s.recovery.Wake)
	return nil
}

// recoveryEmailSent serves GET /recovery/email/sent: «Сіз көрсеткен e-mail-ге …».
func (s *Site) recoveryEmailSent(w http.ResponseWriter, r *http.Request) error {
	p := &RecoveryEmailPage{Base: s.base(w, r, "title_recovery_email"), Sent: true}
	p.Flash = &Notice{Kind: "info", Text: p.T(msgEmailSent)}
	return s.render(w, http.StatusOK, "recovery_email", p)
}

// recoveryPhoneForm serves GET /recovery/phone: the phone number and «Кодты жіберу».
func (s *Site) recoveryPhoneForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, http.StatusOK, "recovery_phone", &RecoveryPhonePage{Base: s.base(w, r, "title_recovery_phone")})
}

// phonePage is the phone recovery page of a posted form: the number, and the flow (its id
// and the resend time, both carried in hidden fields) once a code was asked for.
func (s *Site) phonePage(w http.ResponseWriter, r *http.Request) *RecoveryPhonePage {
	p := &RecoveryPhonePage{Base: s.base(w, r, "title_recovery_phone"), Phone: r.PostForm.Get("phone"),
		FlowID: r.PostForm.Get("flow_id")}
	if at, err := strconv.ParseInt(r.PostForm.Get("resend_at"), 10, 64); err == nil {
		// The countdown is only shown from this; the service enforces the cool-down itself.
		s.resendAt(p, time.Unix(at, 0))
	}
	return p
}

// resendAt sets the countdown to end at t, within the configured cool-down.
func (s *Site) resendAt(p *RecoveryPhonePage, t time.Time) {
	cooldown := s.recovery.Config().ResendCooldown
	left := t.Sub(s.cfg.Clock())
	left = min(max(left, 0), cooldown)
	p.ResendIn = httpx.Seconds(left)
	p.ResendAt = s.cfg.Clock().Add(left).Unix()
}

// codeStep shows the code field of flow f on p, with the neutral message that a code was
// sent.
func (s *Site) codeStep(p *RecoveryPhonePage, f recovery.FlowInfo) {
	p.FlowID = f.ID
	s.resendAt(p, s.cfg.Clock().Add(f.ResendAfter))
	p.Flash = &Notice{Kind: "info", Text: p.T(msgPhoneSent)}
}

// carryFlow makes the language switch of the code step post the flow, which a link would
// lose.
func carryFlow(p *RecoveryPhonePage) {
	if p.FlowID == "" {
		return
	}
	p.LangForm = &LangForm{Action: "/recovery/phone/verify", Hidden: []Hidden{
		{"flow_id", p.FlowID}, {"phone", p.Phone}, {"resend_at", strconv.FormatInt(p.ResendAt, 10)}}}
}

func (s *Site) renderPhone(w http.ResponseWriter, status int, p *RecoveryPhonePage) error {
	carryFlow(p)
	return s.render(w, status, "recovery_phone", p)
}

// failPhone shows err on the phone page: a flow that ended sends back to the number.
func (s *Site) failPhone(w http.ResponseWriter, p *RecoveryPhonePage, err error) error {
	if kilt.ErrorCode(err) == recovery.CodeFlowGone {
		p.FlowID, p.ResendIn, p.ResendAt = "", 0, 0
	}
	carryFlow(p)
	return s.fail(w, "recovery_phone", p, err, nil)
}

// recoveryPhone serves POST /recovery/phone: «Кодты жіберу». Every number gets the same
// answer: the neutral message and, on the same screen, the «Растау коды» field.
func (s *Site) recoveryPhone(w http.ResponseWriter, r *http.Request) error {
	p := s.phonePage(w, r)
	p.FlowID = ""
	f, err := s.recovery.RequestPhone(r.Context(), s.recoveryClient(r), p.Phone)
	if err != nil {
		return s.failPhone(w, p, err)
	}
	s.codeStep(p, f)
	if err := s.renderPhone(w, http.StatusOK, p); err != nil {
		return err
	}
	httpx.AfterResponse(w, s.recovery.Wake)
	return nil
}

// recoveryResend serves POST /recovery/phone/resend: a new code after the cool-down; before
// it, the page again with the seconds left (429).
func (s *Site) recoveryResend(w http.ResponseWriter, r *http.Request) error {
	p := s.phonePage(w, r)
	f, err := s.recovery.Resend(r.Context(), s.recoveryClient(r), p.FlowID)
	if err != nil {
		if e, ok := kilt.AsError(err); ok && e.RetryAfter > 0 {
			s.resendAt(p, s.cfg.Clock().Add(e.RetryAfter))
		}
		return s.failPhone(w, p, err)
	}
	s.codeStep(p, f)
	if err := s.renderPhone(w, http.StatusOK, p); err != nil {
		return err
	}
	httpx.AfterResponse(w, s.recovery.Wake)
	return nil
}

// recoveryVerify serves POST /recovery/phone/verify: «Жіберу» under the code. A correct code
// leads to the new password, its reset token carried like an e-mail link's.
func (s *Site) recoveryVerify(w http.ResponseWriter, r *http.Request) error {
	p := s.phonePage(w, r)
	if !r.PostForm.Has("code") && explicitLang(r) != "" {
		// The language switch of the code step: the same step in the chosen language.
		return s.renderPhone(w, http.StatusOK, p)
	}
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	token, err := s.recovery.Verify(r.Context(), s.recoveryClient(r), p.FlowID, code)
	if err != nil {
		return s.failPhone(w, p, err)
	}
	secretPage(w)
	s.setToken(w, s.resetCookie(), "/recovery/reset", token, s.recovery.Config().ResetLifetime)
	return redirect(w, r, "/recovery/reset")
}

// resetForm serves GET /recovery/reset. With ?token= (the e-mail link) it changes nothing:
// it moves the token into a cookie scoped to this path and answers 303 to the clean URL.
// The clean page takes the token from the cookie (clearing it) into a hidden field of the
// «Құпия сөз» / «Құпия сөзді қайталау» / «Сақтау» form; a missing or dead token gets the one
// message for invalid, expired and used links.
func (s *Site) resetForm(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	if q := r.URL.Query(); q.Has("token") {
		s.setToken(w, s.resetCookie(), "/recovery/reset", q.Get("token"), s.recovery.Config().LinkLifetime)
		return redirect(w, r, "/recovery/reset")
	}
	p := &ResetPage{Base: s.base(w, r, "title_reset"), Token: s.takeToken(w, r, s.resetCookie(), "/recovery/reset")}
	live, err := s.liveToken(r, p.Token)
	if err != nil {
		return err
	}
	if !live {
		return s.resetGone(w, p)
	}
	return s.renderReset(w, http.StatusOK, p)
}

// liveToken reports whether token can still set a password, changing nothing.
func (s *Site) liveToken(r *http.Request, token string) (bool, error) {
	err := s.recovery.Check(r.Context(), token)
	if kilt.ErrorKind(err) == kilt.KindGone {
		return false, nil
	}
	return err == nil, err
}

func (s *Site) renderReset(w http.ResponseWriter, status int, p *ResetPage) error {
	p.LangForm = &LangForm{Action: "/recovery/reset", Hidden: []Hidden{{"token", p.Token}}}
	return s.render(w, status, "reset", p)
}

func (s *Site) resetGone(w http.ResponseWriter, p *ResetPage) error {
	p.Token, p.Gone, p.LangForm = "", true, nil
	p.Error = s.message(p.Lang, recovery.CodeLinkInvalid)
	return s.render(w, http.StatusGone, "reset", p)
}

// reset serves POST /recovery/reset: «Сақтау». On success every session of the account has
// ended, and the browser goes to sign in with a success notice; a password the policy
// refuses shows each rule next to its field and keeps the token usable.
func (s *Site) reset(w http.ResponseWriter, r *http.Request) error {
	secretPage(w)
	p := &ResetPage{Base: s.base(w, r, "title_reset"), Token: r.PostForm.Get("token")}
	if !r.PostForm.Has("password") && explicitLang(r) != "" {
		// The language switch of the form: the same form in the chosen language.
		return s.renderReset(w, http.StatusOK, p)
	}
	err := s.recovery.Reset(r.Context(), s.recoveryClient(r), p.Token, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"))
	if kilt.ErrorKind(err) == kilt.KindGone {
		return s.resetGone(w, p)
	}
	if err != nil {
		p.LangForm = &LangForm{Action: "/recovery/reset", Hidden: []Hidden{{"token", p.Token}}}
		return s.fail(w, "reset", p, err, nil)
	}
	s.setFlash(w, flashPasswordReset)
	return redirect(w, r, "/login")
}

// seconds is d in whole seconds, rounded up.
func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
