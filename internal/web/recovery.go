package web

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/httpx"
	"kilt/internal/recovery"
)

// The neutral answers of recovery: the same whether or not the identifier has an account.
const (
	msgEmailSent = "recovery_email_sent"
	msgPhoneSent = "recovery_phone_sent"
)

// recoveryPage is /recovery: the manual's two ways as tabs, which are links (they work
// without JavaScript), the e-mail form first.
func (s *Site) recoveryPage(w http.ResponseWriter, r *http.Request, byPhone bool) *RecoveryPage {
	p := &RecoveryPage{Base: s.base(w, r, "title_recovery"), ByPhone: byPhone,
		EmailURL: "/recovery", PhoneURL: "/recovery?by=phone"}
	if byPhone {
		p.relink("/recovery", url.Values{"by": {"phone"}})
	} else if r.Method == http.MethodPost {
		p.relink("/recovery", nil)
	}
	return p
}

// recoveryForm serves GET /recovery: «Құпия сөзді ұмыттыңыз ба?» opens the form itself, by
// e-mail, or by phone with ?by=phone.
func (s *Site) recoveryForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, http.StatusOK, "recovery", s.recoveryPage(w, r, r.URL.Query().Get("by") == "phone"))
}

// recoveryEmailForm serves GET /recovery/email and recoveryPhoneForm GET /recovery/phone,
// the addresses of the forms before they became tabs of /recovery: links to them still
// work.
func (s *Site) recoveryEmailForm(w http.ResponseWriter, r *http.Request) error {
	return redirect(w, r, "/recovery")
}

func (s *Site) recoveryPhoneForm(w http.ResponseWriter, r *http.Request) error {
	return redirect(w, r, "/recovery?by=phone")
}

// recoveryEmail serves POST /recovery/email: «Жіберу». Whether or not the address has an
// account, the answer is the neutral message (after a redirect, so a reload asks nothing).
func (s *Site) recoveryEmail(w http.ResponseWriter, r *http.Request) error {
	p := s.recoveryPage(w, r, false)
	p.Email = r.PostForm.Get("email")
	if err := s.recovery.RequestEmail(r.Context(), s.recoveryClient(r), p.Email); err != nil {
		return s.fail(w, "recovery", p, err, nil)
	}
	addr, _ := account.ParseEmail(p.Email)
	s.setSentTo(w, "/recovery/email/sent", maskEmail(addr))
	redirect(w, r, "/recovery/email/sent")
	httpx.AfterResponse(w, s.recovery.Wake)
	return nil
}

// recoveryEmailSent serves GET /recovery/email/sent: «Сіз көрсеткен e-mail-ге …», where the
// link went (masked), how long it lasts, and what to do when it does not come.
func (s *Site) recoveryEmailSent(w http.ResponseWriter, r *http.Request) error {
	p := s.recoveryPage(w, r, false)
	sent := sentLink(p.Lang, s.sentTo(r), "/recovery", s.recovery.Config().LinkLifetime)
	p.Sent = &sent
	p.Flash = &Notice{Kind: "info", Text: p.T(msgEmailSent)}
	return s.render(w, http.StatusOK, "recovery", p)
}

// sentLifetime bounds the cookie that tells a "sent" page where its link went.
const sentLifetime = time.Hour

// setSentTo makes the "sent" page at path say where its link went: masked, so the cookie
// never holds the whole address, and kept (not taken) so that a language switch or a
// reload still shows it.
func (s *Site) setSentTo(w http.ResponseWriter, path, masked string) {
	if masked == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.sentCookie(), Value: base64.RawURLEncoding.EncodeToString([]byte(masked)),
		Path: path, MaxAge: int(sentLifetime / time.Second), HttpOnly: true, Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

// sentTo is the masked address the sent cookie holds, "" when there is none or it does not
// read as one: the page shows nothing but a masked address from it.
func (s *Site) sentTo(r *http.Request) string {
	c, err := r.Cookie(s.sentCookie())
	if err != nil {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 260 || !utf8.Valid(b) {
		return ""
	}
	v := string(b)
	first, size := utf8.DecodeRuneInString(v)
	rest, ok := strings.CutPrefix(v[size:], strings.Repeat(mask, 3)+"@")
	if !ok || first == '@' || !unicode.IsPrint(first) || rest == "" || strings.ContainsFunc(rest, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-')
	}) {
		return ""
	}
	return v
}

// codeStep is the code step of recovery flow id for the number phone (as typed), its
// countdown ending at resendAt.
func (s *Site) codeStep(p *RecoveryPage, resendAt time.Time) {
	p.Code.Verify, p.Code.Resend = "/recovery/phone/verify", "/recovery/phone/resend"
	var to string
	if e164, err := s.accounts.ParsePhone(p.Phone); err == nil {
		to = maskPhone(e164)
	}
	p.Code.Sent = sentCode(p.Lang, to, "/recovery?by=phone", s.recovery.Config().CodeLifetime)
	s.countdown(&p.Code, resendAt, s.recovery.Config().ResendCooldown)
	spent := ""
	if p.Code.Spent {
		spent = "1"
	}
	p.Code.Hidden = []Hidden{{"flow_id", p.FlowID}, {"phone", p.Phone},
		{"resend_at", strconv.FormatInt(p.Code.ResendAt, 10)}, {"spent", spent}}
	p.LangForm = &LangForm{Action: "/recovery/phone/verify", Hidden: p.Code.Hidden}
}

// countdown sets c's countdown to end at t, within the cool-down.
func (s *Site) countdown(c *CodeStep, t time.Time, cooldown time.Duration) {
	left := min(max(t.Sub(s.cfg.Clock()), 0), cooldown)
	c.ResendIn = httpx.Seconds(left)
	c.ResendAt = s.cfg.Clock().Add(left).Unix()
}

// phonePage is the phone recovery page of a posted form: the number, and the flow (its id,
// the resend time and whether its code is spent, carried in hidden fields) once a code was
// asked for.
func (s *Site) phonePage(w http.ResponseWriter, r *http.Request) (*RecoveryPage, time.Time) {
	p := s.recoveryPage(w, r, true)
	p.Phone, p.FlowID = r.PostForm.Get("phone"), r.PostForm.Get("flow_id")
	p.Code.Spent = r.PostForm.Get("spent") == "1"
	// The countdown is only shown from this; the service enforces the cool-down itself.
	at := s.cfg.Clock()
	if unix, err := strconv.ParseInt(r.PostForm.Get("resend_at"), 10, 64); err == nil {
		at = time.Unix(unix, 0)
	}
	return p, at
}

// renderPhone shows the code step of p (or the number form when it has no flow).
func (s *Site) renderPhone(w http.ResponseWriter, status int, p *RecoveryPage, resendAt time.Time) error {
	if p.FlowID != "" {
		s.codeStep(p, resendAt)
	}
	return s.render(w, status, "recovery", p)
}

// failPhone shows err on the phone page: a flow that ended sends back to the number; a code
// used up by wrong entries, or expired, gives way to "send a new code".
func (s *Site) failPhone(w http.ResponseWriter, p *RecoveryPage, resendAt time.Time, err error) error {
	switch kilt.ErrorCode(err) {
	case recovery.CodeFlowGone:
		p.FlowID = ""
	case recovery.CodeCodeExpired:
		p.Code.Spent = true
	}
	if spent(err) {
		p.Code.Spent = true
		p.Error = p.T("code_spent")
		s.codeStep(p, resendAt)
		return s.render(w, httpx.Status(err), "recovery", p)
	}
	if p.FlowID != "" {
		s.codeStep(p, resendAt)
	}
	return s.fail(w, "recovery", p, err, nil)
}

// spent reports whether err is a wrong code that used up the code's last attempt: the code
// no longer works, and saying "0 attempts left" beside a live field would only invite a
// sixth.
func spent(err error) bool {
	e, ok := kilt.AsError(err)
	if !ok || e.Code != account.CodeCodeInvalid {
		return false
	}
	n, ok := e.Details["attempts_left"].(int)
	return ok && n <= 0
}

// recoveryPhone serves POST /recovery/phone: «Кодты жіберу». Every number that can receive
// an SMS gets the same answer: the neutral message and, on the same screen, the «Растау
// коды» field.
func (s *Site) recoveryPhone(w http.ResponseWriter, r *http.Request) error {
	p, _ := s.phonePage(w, r)
	p.FlowID, p.Code.Spent = "", false
	f, err := s.recovery.RequestPhone(r.Context(), s.recoveryClient(r), p.Phone)
	if err != nil {
		return s.failPhone(w, p, time.Time{}, err)
	}
	p.FlowID = f.ID
	p.Flash = &Notice{Kind: "info", Text: p.T(msgPhoneSent)}
	if err := s.renderPhone(w, http.StatusOK, p, s.cfg.Clock().Add(f.ResendAfter)); err != nil {
		return err
	}
	httpx.AfterResponse(w, s.recovery.Wake)
	return nil
}

// recoveryResend serves POST /recovery/phone/resend: a new code after the cool-down; before
// it, the page again with the seconds left (429).
func (s *Site) recoveryResend(w http.ResponseWriter, r *http.Request) error {
	p, at := s.phonePage(w, r)
	f, err := s.recovery.Resend(r.Context(), s.recoveryClient(r), p.FlowID)
	if err != nil {
		if e, ok := kilt.AsError(err); ok && e.RetryAfter > 0 {
			at = s.cfg.Clock().Add(e.RetryAfter)
		}
		return s.failPhone(w, p, at, err)
	}
	p.Code.Spent = false
	p.Flash = &Notice{Kind: "info", Text: p.T(msgPhoneSent)}
	if err := s.renderPhone(w, http.StatusOK, p, s.cfg.Clock().Add(f.ResendAfter)); err != nil {
		return err
	}
	httpx.AfterResponse(w, s.recovery.Wake)
	return nil
}

// recoveryVerify serves POST /recovery/phone/verify: «Жіберу» under the code. A correct code
// leads to the new password, its reset token carried like an e-mail link's.
func (s *Site) recoveryVerify(w http.ResponseWriter, r *http.Request) error {
	p, at := s.phonePage(w, r)
	if !r.PostForm.Has("code") && explicitLang(r) != "" {
		// The language switch of the code step: the same step in the chosen language.
		if p.Code.Spent {
			p.Error = p.T("code_spent")
		}
		return s.renderPhone(w, http.StatusOK, p, at)
	}
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	token, err := s.recovery.Verify(r.Context(), s.recoveryClient(r), p.FlowID, code)
	if err != nil {
		return s.failPhone(w, p, at, err)
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

// resetGone answers for a dead link: its own heading (not «Жаңа құпия сөз», a form that is
// not there), the one message, and the way to start again.
func (s *Site) resetGone(w http.ResponseWriter, p *ResetPage) error {
	p.Token, p.Gone, p.LangForm = "", true, nil
	p.Title = p.T("title_link_invalid")
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
