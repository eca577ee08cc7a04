package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kilt/internal/account"
	"kilt/internal/kilttest"
)

// TestLinksComeFromTheBaseURL: every link in a message is built from KILT_BASE_URL, never
// from the request's Host or X-Forwarded-* headers, even from a trusted proxy: a poisoned
// Host cannot send a citizen's recovery link to the attacker's site.
func TestLinksComeFromTheBaseURL(t *testing.T) {
	forEachDialect(t, behindProxy, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "victim@mail.kz", "", goodPassword)
		poisoned := func(path string, body any) {
			t.Helper()
			data, _ := json.Marshal(body)
			req, err := http.NewRequest("POST", e.URL+path, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "evil.example"
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-Host", "evil.example")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("Forwarded", "host=evil.example;proto=https")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
			}
		}
		poisoned("/api/v1/recovery/email", map[string]string{"email": "victim@mail.kz"})
		poisoned("/api/v1/registrations", kilttest.WithConsent(map[string]string{"email": "new@mail.kz", "password": goodPassword, "password_confirm": goodPassword}))
		poisoned("/api/v1/registrations", kilttest.WithConsent(map[string]string{"email": "victim@mail.kz", "password": goodPassword, "password_confirm": goodPassword}))
		e.Deliver(t)
		var links int
		for _, to := range []string{"victim@mail.kz", "new@mail.kz"} {
			for _, m := range e.MailTo(t, to) {
				for _, body := range []string{m.Text, m.HTML} {
					if strings.Contains(body, "evil.example") {
						t.Errorf("mail to %s (%s) names the poisoned host:\n%s", to, m.Subject, body)
					}
					links += strings.Count(body, "http://kilt.test/")
				}
			}
		}
		// The recovery link, the confirmation link, the "already registered" notice's
		// recovery address: each in the text and the HTML part.
		if links < 6 {
			t.Errorf("found %d links to the base URL in the mails, want at least 6", links)
		}
	})
}

// TestSecretsStoredOnlyHashed: the database holds a link token and a session token only as
// their SHA-256, an SMS code only as an HMAC, and a sent message loses its secret part: a
// copy of the database gives nobody a working link, code or session.
func TestSecretsStoredOnlyHashed(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		ctx := context.Background()
		addAccount(t, e, "a@mail.kz", "+77011234567", goodPassword)
		if r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"}); r.Status != 202 {
			t.Fatalf("recovery by e-mail: %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}); r.Status != 202 {
			t.Fatalf("recovery by phone: %d %s", r.Status, r.Body)
		}
		e.Deliver(t)
		tok := tokenOf(t, e.MailTo(t, "a@mail.kz")[0].Link("/recovery/reset?token="))
		sms := e.SMSTo("+77011234567")
		if len(sms) != 1 {
			t.Fatalf("got %d SMS, want 1", len(sms))
		}
		code := kilttest.Code(sms[0])
		sess := mustLogin(t, e, "a@mail.kz", goodPassword)

		db := e.App.DB
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return n
		}
		tokHash, sessHash := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(sess.Token))
		if n := count(`SELECT COUNT(*) FROM recovery_tokens WHERE token_hash = $1`, tokHash[:]); n != 1 {
			t.Errorf("recovery_tokens: %d rows hold the link token's SHA-256, want 1", n)
		}
		if n := count(`SELECT COUNT(*) FROM sessions WHERE token_hash = $1`, sessHash[:]); n != 1 {
			t.Errorf("sessions: %d rows hold the session token's SHA-256, want 1", n)
		}
		for _, q := range []string{`SELECT COUNT(*) FROM recovery_tokens WHERE token_hash = $1`, `SELECT COUNT(*) FROM sessions WHERE token_hash = $1`} {
			if n := count(q, []byte(tok)) + count(q, []byte(sess.Token)); n != 0 {
				t.Errorf("%s: a raw token is stored", q)
			}
		}
		var hmacs [][]byte
		rows, err := db.Query(ctx, `SELECT code_hmac FROM recovery_flows WHERE code_hmac IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
			hmacs = append(hmacs, h)
		}
		rows.Close()
		if len(hmacs) != 1 || len(hmacs[0]) != sha256.Size || bytes.Contains(hmacs[0], []byte(code)) {
			t.Errorf("recovery_flows.code_hmac: %d values %x, want one 32-byte HMAC not holding the code", len(hmacs), hmacs)
		}
		if sum := sha256.Sum256([]byte(code)); len(hmacs) == 1 && bytes.Equal(hmacs[0], sum[:]) {
			t.Errorf("the code is stored as its plain SHA-256, which six digits make trivial to reverse")
		}
		if n := count(`SELECT COUNT(*) FROM outbox WHERE secret IS NOT NULL`); n != 0 {
			t.Errorf("outbox: %d sent messages still hold their link or code", n)
		}
		if n := count(`SELECT COUNT(*) FROM outbox WHERE params LIKE $1 OR params LIKE $2 OR last_error LIKE $1 OR last_error LIKE $2`,
			"%"+tok+"%", "%"+code+"%"); n != 0 {
			t.Errorf("outbox: %d rows hold the token or the code outside the secret column", n)
		}
	})
}

// TestRecoverySMSOnlyToVerifiedNumbers: a recovery code goes only to a number an account
// has verified; an unverified or unknown number gets the same answer and no SMS.
func TestRecoverySMSOnlyToVerifiedNumbers(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		if _, err := e.App.Accounts.Add(context.Background(), account.NewAccount{Email: "a@mail.kz", EmailVerified: true,
			Phone: "+77011112233", PhoneVerified: false, Password: goodPassword, Confirm: goodPassword}); err != nil {
			t.Fatal(err)
		}
		addAccount(t, e, "", "+77014445566", goodPassword)
		for _, n := range []string{"+77011112233", "+77017778899", "+77014445566"} {
			if r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": n}); r.Status != 202 {
				t.Fatalf("%s: %d %s", n, r.Status, r.Body)
			}
		}
		e.Deliver(t)
		if got := len(e.SMSTo("+77011112233")) + len(e.SMSTo("+77017778899")); got != 0 {
			t.Errorf("%d recovery SMS went to an unverified or unknown number, want none", got)
		}
		if got := len(e.SMSTo("+77014445566")); got != 1 {
			t.Errorf("the verified number got %d SMS, want 1", got)
		}
	})
}

// TestResetTokenLastsFifteenMinutes: after a correct code, the flow may set the password
// for 15 minutes and no longer.
func TestResetTokenLastsFifteenMinutes(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		resetToken := func() string {
			t.Helper()
			var f struct {
				FlowID string `json:"flow_id"`
			}
			e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &f)
			e.Deliver(t)
			sms := e.SMSTo("+77011234567")
			var v struct {
				ResetToken string `json:"reset_token"`
			}
			r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": kilttest.Code(sms[len(sms)-1])})
			if r.Status != 200 {
				t.Fatalf("verify: %d %s", r.Status, r.Body)
			}
			r.JSON(t, &v)
			return v.ResetToken
		}
		late := resetToken()
		e.Clock.Advance(15*time.Minute + time.Second)
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(late, newPassword)); r.Status != 410 {
			t.Errorf("a reset token after 15 min: got %d %s, want 410", r.Status, r.Body)
		}
		e.Clock.Advance(time.Hour) // out of the way of the per-number SMS limits
		inTime := resetToken()
		e.Clock.Advance(14 * time.Minute)
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(inTime, newPassword)); r.Status != 204 {
			t.Errorf("a reset token after 14 min: got %d %s, want 204", r.Status, r.Body)
		}
	})
}

// TestTokensBoundToTheirPurpose: a registration's confirmation token does not reset a
// password, and a recovery link's token does not confirm a registration.
func TestTokensBoundToTheirPurpose(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@mail.kz", "", goodPassword)
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
		e.Do(t, "POST", "/api/v1/registrations", kilttest.WithConsent(map[string]string{"email": "new@mail.kz", "password": goodPassword, "password_confirm": goodPassword}))
		e.Deliver(t)
		recoveryTok := tokenOf(t, e.MailTo(t, "a@mail.kz")[0].Link("/recovery/reset?token="))
		confirmTok := tokenOf(t, e.MailTo(t, "new@mail.kz")[0].Link("/register/confirm?token="))
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(confirmTok, newPassword)); r.Status != 410 {
			t.Errorf("a confirmation token as a reset token: got %d %s, want 410", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": recoveryTok, "password": goodPassword}); r.Status != 410 {
			t.Errorf("a recovery token as a confirmation token: got %d %s, want 410", r.Status, r.Body)
		}
		// Both still work for what they are.
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(recoveryTok, newPassword)); r.Status != 204 {
			t.Errorf("the recovery token: got %d %s, want 204", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": confirmTok, "password": goodPassword}); r.Status != 201 {
			t.Errorf("the confirmation token: got %d %s, want 201", r.Status, r.Body)
		}
	})
}

// TestForwardedForOnlyFromTrustedProxies: a client cannot pick its own rate-limit key with
// X-Forwarded-For: from an untrusted peer the header is ignored, and behind a trusted
// proxy only the address the proxy saw (the right-most untrusted one) counts.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		xff  func(i int) string
	}{
		{"no trusted proxy", nil, func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }},
		{"spoofed hops before the proxy's", behindProxy, func(i int) string { return fmt.Sprintf("198.51.100.%d, 203.0.113.9", i) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := kilttest.Start(t, "sqlite", tt.env)
			passed := 0
			for i := range 40 {
				r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": fmt.Sprintf("x%d@mail.kz", i)}, "X-Forwarded-For", tt.xff(i))
				if r.Status == 202 {
					passed++
				}
			}
			if passed != 30 {
				t.Errorf("40 requests with 40 forged addresses: %d passed, want the per-IP limit of 30", passed)
			}
		})
	}
}

// TestWrongCodesPauseTheSMSChannel: ten wrong codes within 24 hours, across resends (which
// do not reset the count), pause the account's SMS channel for 24 hours: requests still
// answer as ever, and no code is sent until the pause ends.
func TestWrongCodesPauseTheSMSChannel(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		const phone = "+77011234567"
		addAccount(t, e, "", phone, goodPassword)
		var f struct {
			FlowID string `json:"flow_id"`
		}
		e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": phone}).JSON(t, &f)
		e.Deliver(t)
		wrong := func(n int) {
			t.Helper()
			sms := e.SMSTo(phone)
			code := kilttest.Code(sms[len(sms)-1])
			bad := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
			for range n {
				if r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": bad}); r.Status != 422 {
					t.Fatalf("a wrong code: got %d %s, want 422", r.Status, r.Body)
				}
			}
		}
		resend := func() {
			t.Helper()
			e.Clock.Advance(61 * time.Second)
			if r := e.Do(t, "POST", "/api/v1/recovery/phone/resend", map[string]string{"flow_id": f.FlowID}); r.Status != 202 {
				t.Fatalf("resend: %d %s", r.Status, r.Body)
			}
			e.Deliver(t)
		}
		wrong(4)
		resend()
		wrong(4)
		resend()
		wrong(2) // ten in all
		sent := len(e.SMSTo(phone))
		if sent != 3 {
			t.Fatalf("SMS before the pause: %d, want 3", sent)
		}
		e.Clock.Advance(time.Hour)
		if r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": phone}); r.Status != 202 {
			t.Fatalf("a request while paused: got %d %s, want the usual 202", r.Status, r.Body)
		}
		e.Deliver(t)
		if got := len(e.SMSTo(phone)) - sent; got != 0 {
			t.Errorf("while paused: %d SMS sent, want none", got)
		}
		e.Clock.Advance(24 * time.Hour)
		e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": phone})
		e.Deliver(t)
		if got := len(e.SMSTo(phone)) - sent; got != 1 {
			t.Errorf("after the pause: %d SMS sent, want 1", got)
		}
	})
}
