package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/kilttest"
)

const newPassword = "Kokpar-Baiga-2026"

func resetBody(token, pw string) map[string]string {
	return map[string]string{"token": token, "password": pw, "password_confirm": pw}
}

// tokenOf is the token of a recovery link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	_, tok, ok := strings.Cut(link, "?token=")
	if !ok || len(tok) != 43 {
		t.Fatalf("link %q carries no token", link)
	}
	return tok
}

func TestRecoveryByEmail(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
		other := mustLogin(t, e, "aigerim@mail.kz", goodPassword)

		r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "Aigerim@MAIL.kz"})
		if r.Status != 202 || !strings.Contains(string(r.Body), "Сіз көрсеткен e-mail-ге құпия сөзді қалпына келтіруге арналған қосымша нұсқаулық жіберілді") {
			t.Fatalf("request: %d %s, want 202 with the manual's message", r.Status, r.Body)
		}
		e.Deliver(t)
		mails := e.MailTo(t, "aigerim@mail.kz")
		if len(mails) != 1 {
			t.Fatalf("got %d mails, want 1", len(mails))
		}
		link := mails[0].Link("/recovery/reset?token=")
		if !strings.HasPrefix(link, "http://kilt.test/recovery/reset?token=") || mails[0].HTML == "" || mails[0].Subject == "" {
			t.Fatalf("mail: subject %q link %q html %d bytes", mails[0].Subject, link, len(mails[0].HTML))
		}
		tok := tokenOf(t, link)

		// A password the policy refuses leaves the link usable.
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, "weak")); r.Status != 422 {
			t.Errorf("weak password: got %d %s, want 422", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, goodPassword)); r.Status != 422 || r.ErrorCode() != "password_reused" {
			t.Errorf("the current password: got %d %s, want 422 password_reused", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, newPassword)); r.Status != 204 {
			t.Fatalf("reset: got %d %s, want 204", r.Status, r.Body)
		}
		if r, _ := login(t, e, "aigerim@mail.kz", goodPassword); r.Status != 401 {
			t.Errorf("old password: got %d, want 401", r.Status)
		}
		mustLogin(t, e, "aigerim@mail.kz", newPassword)
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(other.Token)...); r.Status != 401 {
			t.Errorf("a session from before the reset survived: %d", r.Status)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, "Another-Pass-99")); r.Status != 410 || r.ErrorCode() != "link_invalid" {
			t.Errorf("the link again: got %d %s, want 410 link_invalid", r.Status, r.Body)
		}
		// The notice goes to every verified channel and carries no secret: its one link is
		// the freeze link ("this wasn't me"), which signs nobody in.
		e.Deliver(t)
		mails = e.MailTo(t, "aigerim@mail.kz")
		if len(mails) != 2 || mails[1].Link("/recovery/reset?token=") != "" || mails[1].Link("/freeze?token=") == "" ||
			strings.Contains(mails[1].Text, tok) {
			t.Errorf("notice mail: %d mails; the last %q", len(mails), mails[len(mails)-1].Text)
		}
		sms := e.SMSTo("+77011234567")
		if len(sms) != 1 || kilttest.Code(sms[0]) != "" {
			t.Errorf("notice SMS: %q", sms)
		}
	})
}

func TestRecoveryByPhone(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		other := mustLogin(t, e, "+77011234567", goodPassword)
		var flow struct {
			FlowID      string `json:"flow_id"`
			Message     string `json:"message"`
			ResendAfter int    `json:"resend_after"`
			ExpiresIn   int    `json:"expires_in"`
		}
		r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "8 701 123 45 67"})
		r.JSON(t, &flow)
		if r.Status != 202 || flow.FlowID == "" || flow.ResendAfter != 60 || flow.ExpiresIn != 300 || flow.Message == "" {
			t.Fatalf("request: %d %s", r.Status, r.Body)
		}
		e.Deliver(t)
		sms := e.SMSTo("+77011234567")
		if len(sms) != 1 || kilttest.Code(sms[0]) == "" {
			t.Fatalf("SMS: %q", sms)
		}
		code := kilttest.Code(sms[0])
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
		r = e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": flow.FlowID, "code": wrong})
		if r.Status != 422 || !strings.Contains(string(r.Body), `"attempts_left":4`) {
			t.Errorf("wrong code: %d %s, want 422 attempts_left 4", r.Status, r.Body)
		}
		var verified struct {
			ResetToken string `json:"reset_token"`
		}
		r = e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": flow.FlowID, "code": code})
		r.JSON(t, &verified)
		if r.Status != 200 || len(verified.ResetToken) != 43 {
			t.Fatalf("right code: %d %s", r.Status, r.Body)
		}
		// The code is spent.
		if r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": flow.FlowID, "code": code}); r.Status != 410 {
			t.Errorf("the code again: %d %s, want 410", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(verified.ResetToken, newPassword)); r.Status != 204 {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		mustLogin(t, e, "7011234567", newPassword)
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(other.Token)...); r.Status != 401 {
			t.Errorf("a session from before the reset survived: %d", r.Status)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(verified.ResetToken, "Another-Pass-99")); r.Status != 410 {
			t.Errorf("the reset token again: %d", r.Status)
		}
		e.Deliver(t)
		if sms := e.SMSTo("+77011234567"); len(sms) != 2 || kilttest.Code(sms[1]) != "" {
			t.Errorf("notice SMS: %q", sms)
		}
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

var volatile = regexp.MustCompile(`"flow_id":"[^"]*"`)

// TestKnownAndUnknownAnswerAlike: byte-identical answers but for the flow id.
func TestKnownAndUnknownAnswerAlike(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "known@mail.kz", "+77011234567", goodPassword)
	for _, tt := range []struct{ path, field, known, unknown string }{
		{"/api/v1/recovery/email", "email", "known@mail.kz", "unknown@mail.kz"},
		{"/api/v1/recovery/phone", "phone", "+77011234567", "+77017654321"},
	} {
		k := e.Do(t, "POST", tt.path, map[string]string{tt.field: tt.known})
		u := e.Do(t, "POST", tt.path, map[string]string{tt.field: tt.unknown})
		kb, ub := volatile.ReplaceAllString(string(k.Body), ""), volatile.ReplaceAllString(string(u.Body), "")
		if k.Status != u.Status || kb != ub {
			t.Errorf("%s: %d %s vs %d %s", tt.path, k.Status, k.Body, u.Status, u.Body)
		}
		for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control", "Set-Cookie"} {
			if k.Header.Get(h) != u.Header.Get(h) {
				t.Errorf("%s: header %s differs", tt.path, h)
			}
		}
	}
	// An unknown number's flow answers a code as a known one's answers a wrong code.
	var kf, uf struct {
		FlowID string `json:"flow_id"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &kf)
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77017654321"}).JSON(t, &uf)
	e.Deliver(t)
	for i := range 6 {
		k := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": kf.FlowID, "code": "000000"})
		u := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": uf.FlowID, "code": "000000"})
		if k.Status != u.Status || string(k.Body) != string(u.Body) {
			t.Errorf("attempt %d: %d %s vs %d %s", i+1, k.Status, k.Body, u.Status, u.Body)
		}
	}
	if n := len(e.SMSTo("+77017654321")); n != 0 {
		t.Errorf("an unknown number got %d SMS", n)
	}
}

func TestFifthWrongCodeKillsTheCode(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		var f struct {
			FlowID string `json:"flow_id"`
		}
		e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &f)
		e.Deliver(t)
		code := kilttest.Code(e.SMSTo("+77011234567")[0])
		wrong := fmt.Sprintf("%06d", (atoi(code)+7)%1000000)
		for i := 1; i <= 5; i++ {
			r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": wrong})
			if want := fmt.Sprintf(`"attempts_left":%d`, 5-i); r.Status != 422 || !strings.Contains(string(r.Body), want) {
				t.Errorf("wrong code %d: %d %s, want 422 %s", i, r.Status, r.Body, want)
			}
		}
		r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": code})
		if r.Status != 410 || r.ErrorCode() != "flow_gone" {
			t.Errorf("the right code after five wrong ones: %d %s, want 410 flow_gone", r.Status, r.Body)
		}
	})
}

func TestCodeBoundToItsFlow(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "", "+77011234567", goodPassword)
	var a, b struct {
		FlowID string `json:"flow_id"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &a)
	e.Deliver(t)
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &b)
	e.Deliver(t)
	sms := e.SMSTo("+77011234567")
	if len(sms) != 2 {
		t.Fatalf("got %d SMS", len(sms))
	}
	codeA := kilttest.Code(sms[0])
	if r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": b.FlowID, "code": codeA}); r.Status != 422 {
		t.Errorf("flow A's code in flow B: %d %s, want 422", r.Status, r.Body)
	}
}

func TestLinksExpiredUsedUnknownAlike(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@mail.kz", "", goodPassword)
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
		e.Deliver(t)
		used := tokenOf(t, e.MailTo(t, "a@mail.kz")[0].Link("token="))
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(used, newPassword)); r.Status != 204 {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		e.Clock.Advance(2 * time.Hour) // out of the per-identifier limit's way
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
		e.Deliver(t)
		expired := ""
		for _, m := range e.MailTo(t, "a@mail.kz") { // the notice may arrive before or after
			if l := m.Link("token="); l != "" && tokenOf(t, l) != used {
				expired = tokenOf(t, l)
			}
		}
		e.Clock.Advance(31 * time.Minute)
		unknown := strings.Repeat("A", 43)
		var bodies []string
		for _, tok := range []string{used, expired, unknown, "short"} {
			r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, "Brand-New-Pass-7"))
			if r.Status != 410 {
				t.Errorf("token %q: %d, want 410", tok[:5], r.Status)
			}
			bodies = append(bodies, string(r.Body))
		}
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Errorf("answers differ: %s vs %s", bodies[0], b)
			}
		}
	})
}

func TestNewerLinkKillsOlder(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@mail.kz", "", goodPassword)
	for range 2 {
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
		e.Deliver(t)
	}
	mails := e.MailTo(t, "a@mail.kz")
	first, second := tokenOf(t, mails[0].Link("token=")), tokenOf(t, mails[1].Link("token="))
	if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(first, newPassword)); r.Status != 410 {
		t.Errorf("the older link: %d, want 410", r.Status)
	}
	if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(second, newPassword)); r.Status != 204 {
		t.Errorf("the newer link: %d %s, want 204", r.Status, r.Body)
	}
}

// TestConcurrentResetsOneWins: one token submitted many times at once sets the password once.
func TestConcurrentResetsOneWins(t *testing.T) {
	forEachDialect(t, map[string]string{"KILT_HASH_WAIT": "50s"}, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@mail.kz", "", goodPassword)
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
		e.Deliver(t)
		tok := tokenOf(t, e.MailTo(t, "a@mail.kz")[0].Link("token="))
		const n = 12
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Passwords unlike each other, so that no loser is refused as similar to the
				// winner's (which it would be if it checked the history after the win).
				words := []string{"Alma", "Bota", "Dala", "Erke", "Gulim", "Zhuldyz", "Kyran", "Marzhan", "Nurly", "Orken", "Samal", "Tulpar"}
				codes[i] = e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, fmt.Sprintf("%s-Steppe-%02d!", words[i], i))).Status
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, c := range codes {
			count[c]++
		}
		if count[204] != 1 || count[410] != n-1 {
			t.Errorf("statuses %v, want one 204 and %d × 410", count, n-1)
		}
	})
}

func TestRecoveryLimits(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@mail.kz", "+77011234567", goodPassword)
	// Per identifier (5 an hour), whether it has an account or not: said openly.
	for _, id := range []string{"a@mail.kz", "ghost@mail.kz"} {
		for i := range 5 {
			if r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": id}); r.Status != 202 {
				t.Fatalf("%s request %d: %d", id, i+1, r.Status)
			}
		}
		r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": id})
		if r.Status != 429 || r.Header.Get("Retry-After") != "720" {
			t.Errorf("%s sixth: %d Retry-After %q, want 429 and 720 s", id, r.Status, r.Header.Get("Retry-After"))
		}
	}
	e.Deliver(t)
	if n := len(e.MailTo(t, "a@mail.kz")); n != 5 {
		t.Errorf("mails sent: %d, want 5", n)
	}
	// Per account (5 an hour): the five links used it up, so a code to the same account's
	// phone is not sent — and the answer is the same as ever.
	r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"})
	e.Deliver(t)
	if r.Status != 202 || len(e.SMSTo("+77011234567")) != 0 {
		t.Errorf("over the account limit: %d, %d SMS; want 202 and none", r.Status, len(e.SMSTo("+77011234567")))
	}
	// Resend honours the cool-down and says how long is left.
	addAccount(t, e, "", "+77021234567", goodPassword)
	var f struct {
		FlowID string `json:"flow_id"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77021234567"}).JSON(t, &f)
	e.Clock.Advance(20 * time.Second)
	r = e.Do(t, "POST", "/api/v1/recovery/phone/resend", map[string]string{"flow_id": f.FlowID})
	if r.Status != 429 || r.ErrorCode() != "resend_too_soon" || r.Header.Get("Retry-After") != "40" {
		t.Errorf("resend after 20 s: %d %s Retry-After %q, want 429 resend_too_soon 40", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	e.Clock.Advance(40 * time.Second)
	if r := e.Do(t, "POST", "/api/v1/recovery/phone/resend", map[string]string{"flow_id": f.FlowID}); r.Status != 202 {
		t.Errorf("resend after 60 s: %d %s", r.Status, r.Body)
	}
	e.Deliver(t)
	if n := len(e.SMSTo("+77021234567")); n != 2 {
		t.Errorf("SMS: %d, want 2", n)
	}
	// SMS per number: 5 an hour, whatever the flows.
	for range 6 {
		e.Clock.Advance(61 * time.Second)
		e.Do(t, "POST", "/api/v1/recovery/phone/resend", map[string]string{"flow_id": f.FlowID})
	}
	e.Deliver(t)
	if n := len(e.SMSTo("+77021234567")); n != 5 {
		t.Errorf("SMS within the hour: %d, want 5", n)
	}
}

// TestRecoveryWorksWhileSignInIsSlowedDown: failed sign-ins never block recovery, and the
// new password signs in at once.
func TestRecoveryWorksWhileSignInIsSlowedDown(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@mail.kz", "", goodPassword)
	for range 5 {
		login(t, e, "a@mail.kz", "Wrong-Guess-1")
	}
	if r, _ := login(t, e, "a@mail.kz", goodPassword); r.Status != 429 {
		t.Fatalf("sign-in not slowed down: %d", r.Status)
	}
	// The failures forgotten are those before the change (a clock that does not move
	// would make them simultaneous).
	e.Clock.Advance(time.Millisecond)
	e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
	e.Deliver(t)
	tok := tokenOf(t, e.MailTo(t, "a@mail.kz")[0].Link("token="))
	if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, newPassword)); r.Status != 204 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	mustLogin(t, e, "a@mail.kz", newPassword)
}

func TestRecoveryMalformedInput(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@mail.kz", "+77011234567", goodPassword)
	tests := []struct{ path, body, code string }{
		{"/api/v1/recovery/email", `["a@mail.kz"]`, "malformed_request"},
		{"/api/v1/recovery/email", `{"email":["a@mail.kz"]}`, "malformed_request"},
		{"/api/v1/recovery/email", `{"email":"a@mail.kz","email":"b@mail.kz"}`, "malformed_request"},
		{"/api/v1/recovery/email", `{"email":"a@mail.kz\r\nBcc: x@evil.kz"}`, "invalid_email"},
		{"/api/v1/recovery/email", "{\"email\":\"a\xffb@mail.kz\"}", "malformed_request"},
		{"/api/v1/recovery/email", `{"email":"` + strings.Repeat("a", 70000) + `@mail.kz"}`, "request_too_large"},
		{"/api/v1/recovery/phone", `{"phone":87011234567}`, "malformed_request"},
		{"/api/v1/recovery/phone", `{"phone":"+7 701 ABC"}`, "invalid_phone"},
		{"/api/v1/recovery/phone/verify", `{"flow_id":"x","code":123456}`, "malformed_request"},
		{"/api/v1/recovery/reset", `{"token":null,"password":1}`, "malformed_request"},
	}
	for _, tt := range tests {
		if r := e.Do(t, "POST", tt.path, tt.body); r.Status != 400 || r.ErrorCode() != tt.code {
			t.Errorf("%s %.60q: %d %s, want 400 %s", tt.path, tt.body, r.Status, r.Body, tt.code)
		}
	}
	e.Deliver(t)
	if n := len(e.Mail.Messages()) + len(e.SMS.Messages()); n != 0 {
		t.Errorf("malformed requests sent %d messages", n)
	}
}

func TestRecoverySecretsNeverLogged(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@mail.kz", "+77011234567", goodPassword)
	e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
	var f struct {
		FlowID string `json:"flow_id"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &f)
	e.Deliver(t)
	tok := tokenOf(t, e.MailTo(t, "a@mail.kz")[0].Link("token="))
	code := kilttest.Code(e.SMSTo("+77011234567")[0])
	var v struct {
		ResetToken string `json:"reset_token"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": code}).JSON(t, &v)
	e.Do(t, "POST", "/api/v1/recovery/reset?token="+tok, resetBody(tok, newPassword))
	e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(v.ResetToken, "Other-New-Pass-5"))
	log := e.Log.String()
	if !strings.Contains(log, "/api/v1/recovery/reset") {
		t.Fatalf("log not captured")
	}
	for _, secret := range []string{tok, code, v.ResetToken, newPassword, "Other-New-Pass-5", goodPassword, "a@mail.kz", "+77011234567"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	_ = http.StatusOK
}

func regexpReplace(pattern, s string) string {
	return regexp.MustCompile(pattern).ReplaceAllString(s, "")
}

// TestAuditTrail: the audit events (docs/security.md, "Logs and audit") are recorded with time, IP and user agent.
func TestAuditTrail(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	a := addAccount(t, e, "a@mail.kz", "+77011234567", goodPassword)
	login(t, e, "a@mail.kz", "Wrong-Guess-1")
	s := mustLogin(t, e, "a@mail.kz", goodPassword)
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"})
	var f struct {
		FlowID string `json:"flow_id"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &f)
	e.Deliver(t)
	e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": "000000"})
	e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword, "password": newPassword,
		"password_confirm": newPassword}, append(bearer(s.Token), "User-Agent", "Kilt-Test/1.0")...)
	e.Do(t, "DELETE", "/api/v1/sessions", nil, bearer(s.Token)...)
	events, err := e.App.Accounts.Recent(t.Context(), a.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range events {
		seen[ev.Type] = true
		if ev.At.IsZero() || (ev.IP == "" && ev.Type != "code_failed") {
			t.Errorf("event %s lacks time or IP: %+v", ev.Type, ev)
		}
		if ev.Type == "password_changed" && ev.UserAgent != "Kilt-Test/1.0" {
			t.Errorf("password_changed user agent %q", ev.UserAgent)
		}
	}
	for _, want := range []string{"login_failed", "login_succeeded", "recovery_requested", "code_failed", "password_changed", "sessions_revoked_all"} {
		if !seen[want] {
			t.Errorf("no %s event; got %v", want, seen)
		}
	}
}

// TestConcurrentCodeEntriesOneWins: the right code entered many times at once gives exactly
// one reset token.
func TestConcurrentCodeEntriesOneWins(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		var f struct {
			FlowID string `json:"flow_id"`
		}
		e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &f)
		e.Deliver(t)
		code := kilttest.Code(e.SMSTo("+77011234567")[0])
		const n = 10
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": code}).Status
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[200] != 1 || count[410] != n-1 {
			t.Errorf("statuses %v, want one 200 and %d × 410", count, n-1)
		}
	})
}

func TestLimitHitsAreCounted(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	for range 6 {
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "ghost@mail.kz"})
	}
	fams, err := e.App.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() == "kilt_rate_limit_hits_total" {
			for _, m := range f.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if got["recovery_identifier"] != 1 || len(got) < 7 {
		t.Errorf("limit metrics %v, want recovery_identifier 1 and every limit present", got)
	}
}

// TestMetricsAfterARecovery scrapes /metrics after a recovery by phone and finds the flow,
// outbox, HTTP and hashing series with the values the flow must have left.
func TestMetricsAfterARecovery(t *testing.T) {
	e := kilttest.Start(t, "sqlite", map[string]string{"KILT_HASH_WORKERS": "3"})
	addAccount(t, e, "", "+77011234567", goodPassword)
	var f struct {
		FlowID string `json:"flow_id"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &f)
	e.Deliver(t)
	code := kilttest.Code(e.SMSTo("+77011234567")[0])
	e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": "000000"})
	var v struct {
		ResetToken string `json:"reset_token"`
	}
	e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": code}).JSON(t, &v)
	e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(v.ResetToken, newPassword))
	e.Deliver(t)

	rec := httptest.NewRecorder()
	e.App.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`kilt_flow_events_total{channel="sms",event="started",flow="recovery"} 1`,
		`kilt_flow_events_total{channel="sms",event="code_failed",flow="recovery"} 1`,
		`kilt_flow_events_total{channel="sms",event="completed",flow="recovery"} 1`,
		`kilt_outbox_sent_total{channel="sms"} 2`, // the code and the notice
		`kilt_outbox_depth 0`,
		`kilt_hash_pool_size 3`,
		`kilt_http_requests_total{method="POST",route="POST /api/v1/recovery/phone",status="202"} 1`,
		`kilt_http_requests_total{method="POST",route="POST /api/v1/recovery/phone/verify",status="422"} 1`,
		`kilt_http_requests_total{method="POST",route="POST /api/v1/recovery/reset",status="204"} 1`,
		`kilt_rate_limit_hits_total{limit="sms_number_hour"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, f.FlowID) || strings.Contains(body, code) {
		t.Errorf("metrics contain a flow id or a code")
	}
}
