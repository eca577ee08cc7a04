package api_test

import (
	"context"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"kilt/internal/account"
	"kilt/internal/kilttest"
)

// TestMessagesCarryTheBrand: the e-mail the in-process SMTP server receives (subject, plain
// text and HTML) and the SMS the webhook gateway receives carry the portal's name in the
// message's language and the support contact; with nothing configured, the neutral default
// name, never "Kilt".
func TestMessagesCarryTheBrand(t *testing.T) {
	e := kilttest.Start(t, "sqlite", map[string]string{
		"KILT_BRAND_NAME":      "Akimat portal",
		"KILT_BRAND_NAME_KK":   "Әкімдік",
		"KILT_SUPPORT_CONTACT": "1414",
	})
	if r := e.Do(t, "POST", "/api/v1/registrations?lang=ru", map[string]string{"email": "dana@mail.kz",
		"password": goodPassword, "password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion}); r.Status != 202 {
		t.Fatalf("registering: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/api/v1/registrations?lang=kk", map[string]string{"phone": "+7 747 123 45 67",
		"password": goodPassword, "password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion}); r.Status != 202 {
		t.Fatalf("registering by phone: %d %s", r.Status, r.Body)
	}
	e.Deliver(t)
	mails := e.MailTo(t, "dana@mail.kz")
	if len(mails) != 1 {
		t.Fatalf("got %d mails, want 1", len(mails))
	}
	m := mails[0]
	if from, err := mail.ParseAddress(m.Header.Get("From")); err != nil || from.Name != "Әкімдік" {
		t.Errorf("From %q, want the portal's name in the default language (kk)", m.Header.Get("From"))
	}
	if !strings.HasPrefix(m.Subject, "Akimat portal: ") {
		t.Errorf("subject %q, want it to begin with the Russian name (KILT_BRAND_NAME)", m.Subject)
	}
	for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
		for _, want := range []string{"Akimat portal", "Служба поддержки: 1414"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part: no %q in\n%s", part, want, body)
			}
		}
		if strings.Contains(body, "Kilt") {
			t.Errorf("%s part names Kilt:\n%s", part, body)
		}
	}
	sms := e.SMSTo("+77471234567")
	if len(sms) != 1 {
		t.Fatalf("got %d SMS, want 1", len(sms))
	}
	if !strings.HasPrefix(sms[0], "Әкімдік: ") || !strings.HasSuffix(sms[0], "\nҚолдау қызметі: 1414") {
		t.Errorf("SMS %q, want the Kazakh name first and the support contact last", sms[0])
	}

	plain := kilttest.Start(t, "sqlite", nil)
	if r := plain.Do(t, "POST", "/api/v1/registrations?lang=en", map[string]string{"email": "dana@mail.kz",
		"password": goodPassword, "password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion}); r.Status != 202 {
		t.Fatalf("registering: %d %s", r.Status, r.Body)
	}
	plain.Deliver(t)
	if got := plain.MailTo(t, "dana@mail.kz"); len(got) != 1 || !strings.HasPrefix(got[0].Subject, "Portal: ") ||
		strings.Contains(got[0].Text+got[0].HTML, "Kilt") {
		t.Errorf("default brand: got %d mails (%+v), want one from «Portal» never naming Kilt", len(got), got)
	}
}

// TestConsentRecorded: on both databases, the consent version given at registration is kept
// with the registration and then with the account it becomes, with the time it was given.
func TestConsentRecorded(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			e := kilttest.Start(t, dialect, nil)
			given := e.Clock.Now()
			r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"email": "aigerim@mail.kz",
				"password": goodPassword, "password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion})
			if r.Status != 202 {
				t.Fatalf("registering: %d %s", r.Status, r.Body)
			}
			var reg struct {
				ID string `json:"registration_id"`
			}
			r.JSON(t, &reg)
			var version string
			if err := e.App.DB.QueryRow(context.Background(), `SELECT consent_version FROM registrations WHERE id = $1`, reg.ID).Scan(&version); err != nil {
				t.Fatal(err)
			}
			if version != kilttest.ConsentVersion {
				t.Errorf("registration: consent_version %q, want %q", version, kilttest.ConsentVersion)
			}
			link, err := url.Parse(e.LatestLink(t, "aigerim@mail.kz", "/register/confirm?token="))
			if err != nil {
				t.Fatal(err)
			}
			e.Clock.Advance(time.Hour)
			if r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": link.Query().Get("token"),
				"password": goodPassword}); r.Status != 201 {
				t.Fatalf("confirming: %d %s", r.Status, r.Body)
			}
			a, err := e.App.Accounts.Lookup(context.Background(), account.Identifier{Kind: account.Email, Value: "aigerim@mail.kz"})
			if err != nil {
				t.Fatal(err)
			}
			if a.ConsentVersion != kilttest.ConsentVersion || !a.ConsentAt.Equal(given) {
				t.Errorf("account: consent %q at %v, want %q at %v (when it was given)", a.ConsentVersion, a.ConsentAt, kilttest.ConsentVersion, given)
			}
		})
	}
}
