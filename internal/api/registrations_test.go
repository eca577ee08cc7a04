package api_test

import (
	"fmt"
	"strings"
	"testing"

	"kilt/internal/kilttest"
)

type registered struct {
	RegistrationID string `json:"registration_id"`
	Channel        string `json:"channel"`
}

func TestRegistrationByEmail(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		var reg registered
		r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"email": "Dana@Mail.kz", "password": goodPassword, "password_confirm": goodPassword,
			"consent_version": kilttest.ConsentVersion})
		r.JSON(t, &reg)
		if r.Status != 202 || reg.Channel != "email" || reg.RegistrationID == "" {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		if r, _ := login(t, e, "dana@mail.kz", goodPassword); r.Status != 401 {
			t.Errorf("signed in before confirming: %d", r.Status)
		}
		e.Deliver(t)
		mails := e.MailTo(t, "Dana@mail.kz")
		if len(mails) != 1 {
			t.Fatalf("%d mails", len(mails))
		}
		link := mails[0].Link("/register/confirm?token=")
		if !strings.HasPrefix(link, "http://kilt.test/register/confirm?token=") {
			t.Fatalf("link %q", link)
		}
		tok := tokenOf(t, link)
		var acct struct {
			Account struct {
				Email         string `json:"email"`
				EmailVerified bool   `json:"email_verified"`
			} `json:"account"`
		}
		r = e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": tok, "password": goodPassword})
		r.JSON(t, &acct)
		if r.Status != 201 || acct.Account.Email != "Dana@mail.kz" || !acct.Account.EmailVerified {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		mustLogin(t, e, "dana@mail.kz", goodPassword)
		if r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": tok, "password": goodPassword}); r.Status != 410 || r.ErrorCode() != "registration_invalid" {
			t.Errorf("confirm again: %d %s", r.Status, r.Body)
		}
		// The new account's first password is in its history.
		s := mustLogin(t, e, "dana@mail.kz", goodPassword)
		r = e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword, "password": goodPassword,
			"password_confirm": goodPassword}, bearer(s.Token)...)
		if r.ErrorCode() != "password_reused" {
			t.Errorf("the registration password is not in the history: %s", r.Body)
		}
	})
}

func TestRegistrationByPhone(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		var reg registered
		r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"phone": "8 747 123 45 67", "password": goodPassword, "password_confirm": goodPassword,
			"consent_version": kilttest.ConsentVersion})
		r.JSON(t, &reg)
		if r.Status != 202 || reg.Channel != "sms" {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		e.Deliver(t)
		sms := e.SMSTo("+77471234567")
		if len(sms) != 1 || kilttest.Code(sms[0]) == "" {
			t.Fatalf("SMS %q", sms)
		}
		code := kilttest.Code(sms[0])
		path := "/api/v1/registrations/" + reg.RegistrationID + "/verify"
		wrong := fmt.Sprintf("%06d", (atoi(code)+3)%1000000)
		if r := e.Do(t, "POST", path, map[string]string{"code": wrong}); r.Status != 422 || !strings.Contains(string(r.Body), `"attempts_left":4`) {
			t.Errorf("wrong code: %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", path, map[string]string{"code": code}); r.Status != 201 || !strings.Contains(string(r.Body), `"phone_verified":true`) {
			t.Fatalf("right code: %d %s", r.Status, r.Body)
		}
		mustLogin(t, e, "87471234567", goodPassword)
		if r := e.Do(t, "POST", path, map[string]string{"code": code}); r.Status != 410 {
			t.Errorf("the code again: %d", r.Status)
		}
	})
}

// TestRegistrationOfATakenIdentifier: the same answer as for a free one; the owner is told
// to recover instead, and the registration can never complete.
func TestRegistrationOfATakenIdentifier(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "taken@mail.kz", "+77011234567", goodPassword)
	body := func(field, value string) map[string]string {
		return map[string]string{field: value, "password": "Another-Pass-42", "password_confirm": "Another-Pass-42", "consent_version": kilttest.ConsentVersion}
	}
	idPattern := `"registration_id":"[^"]*"`
	for _, tt := range []struct{ field, taken, free string }{
		{"email", "Taken@mail.kz", "free@mail.kz"},
		{"phone", "+77011234567", "+77017654321"},
	} {
		taken := e.Do(t, "POST", "/api/v1/registrations", body(tt.field, tt.taken))
		free := e.Do(t, "POST", "/api/v1/registrations", body(tt.field, tt.free))
		tb, fb := strip(string(taken.Body), idPattern), strip(string(free.Body), idPattern)
		if taken.Status != 202 || taken.Status != free.Status || tb != fb || taken.Header.Get("Content-Length") != free.Header.Get("Content-Length") {
			t.Errorf("%s: %d %s vs %d %s", tt.field, taken.Status, taken.Body, free.Status, free.Body)
		}
	}
	e.Deliver(t)
	mails := e.MailTo(t, "taken@mail.kz")
	if len(mails) != 1 || mails[0].Link("token=") != "" || !strings.Contains(mails[0].Text, "http://kilt.test/recovery") {
		t.Errorf("the owner's mail: %+v", mails)
	}
	if sms := e.SMSTo("+77011234567"); len(sms) != 1 || kilttest.Code(sms[0]) != "" {
		t.Errorf("the owner's SMS: %q", sms)
	}
	mustLogin(t, e, "taken@mail.kz", goodPassword) // the account is untouched
}

func strip(s, pattern string) string {
	return regexpReplace(pattern, s)
}

func TestRegistrationInputErrors(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	// consented adds the consent the client showed: every case but the last two gives it.
	consented := func(fields map[string]string) map[string]string {
		fields["consent_version"] = kilttest.ConsentVersion
		return fields
	}
	tests := []struct {
		body   map[string]string
		status int
		code   string
	}{
		{consented(map[string]string{"password": goodPassword, "password_confirm": goodPassword}), 400, "channel_required"},
		{consented(map[string]string{"email": "a@mail.kz", "phone": "+77011234567", "password": goodPassword, "password_confirm": goodPassword}), 400, "channel_required"},
		{consented(map[string]string{"phone": "+7 727 250 00 00", "password": goodPassword, "password_confirm": goodPassword}), 400, "phone_not_supported"},
		{consented(map[string]string{"phone": "+7 916 123 45 67", "password": goodPassword, "password_confirm": goodPassword}), 400, "phone_not_supported"},
		{consented(map[string]string{"email": "a@mail.kz", "password": "Password1!", "password_confirm": "Password1!"}), 422, "password_common"},
		{consented(map[string]string{"email": "a@mail.kz", "password": goodPassword, "password_confirm": goodPassword + "x"}), 422, "password_mismatch"},
		// A client that gives an older consent, and one that forgot it: Do sends exactly
		// these bodies.
		{map[string]string{"email": "a@mail.kz", "password": goodPassword, "password_confirm": goodPassword, "consent_version": "0ld"}, 422, "personal_data_consent_required"},
		{map[string]string{"email": "a@mail.kz", "password": goodPassword, "password_confirm": goodPassword}, 422, "personal_data_consent_required"},
	}
	for _, tt := range tests {
		if r := e.Do(t, "POST", "/api/v1/registrations", tt.body); r.Status != tt.status || r.ErrorCode() != tt.code {
			t.Errorf("%v: %d %s, want %d %s", tt.body, r.Status, r.Body, tt.status, tt.code)
		}
	}
	e.Deliver(t)
	if n := len(e.Mail.Messages()) + len(e.SMS.Messages()); n != 0 {
		t.Errorf("refused registrations sent %d messages", n)
	}
}

// TestRegistrationOverTheLimitCostsNoHashing: a client over the registration limits is
// refused before any Argon2id work.
func TestRegistrationOverTheLimitCostsNoHashing(t *testing.T) {
	e := kilttest.Start(t, "sqlite", map[string]string{"KILT_LIMIT_REGISTRATION_IP": "2/1h"})
	for i := range 2 {
		if r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"email": fmt.Sprintf("r%d@mail.kz", i),
			"password": goodPassword, "password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion}); r.Status != 202 {
			t.Fatalf("registration %d: %d", i, r.Status)
		}
	}
	before := e.App.Pool.Stats().Served
	r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"email": "r9@mail.kz", "password": goodPassword, "password_confirm": goodPassword,
		"consent_version": kilttest.ConsentVersion})
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third: %d %s, want 429", r.Status, r.Body)
	}
	if got := e.App.Pool.Stats().Served - before; got != 0 {
		t.Errorf("a refused registration cost %d hashes", got)
	}
}
