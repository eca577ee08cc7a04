package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/kilttest"
	"kilt/internal/mail/smtptest"
	"kilt/internal/sqlstore"
	"kilt/internal/sqlstore/pgtest"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTwoInstancesOnOnePostgreSQL runs two `kilt serve` processes on one PostgreSQL, as a
// portal behind a load balancer does: they start together and migrate once, a recovery
// started on one finishes on the other, limits are counted across both, and every message
// of the shared outbox is delivered once while both dispatch.
func TestTwoInstancesOnOnePostgreSQL(t *testing.T) {
	dbURL := pgtest.URL(t)
	smtp := smtptest.Start(t, smtptest.Options{Security: smtptest.Plain})
	env := []string{"KILT_DATABASE_URL=" + dbURL, "KILT_BASE_URL=https://id.example.kz", "KILT_LISTEN=127.0.0.1:0",
		"KILT_LOG_FORMAT=json", "KILT_SMTP_URL=smtp://" + smtp.Addr() + "?starttls=false", "KILT_SMS_PROVIDER=webhook",
		"KILT_SMS_WEBHOOK_URL=" + kilttest.StartSMSGateway(t).URL, "KILT_ARGON2_MEMORY=8192", "KILT_ARGON2_TIME=1",
		"KILT_SECRET=" + strings.Repeat("shared-secret-", 4), "KILT_LIMIT_REGISTRATION_IP=100/1h", "KILT_DRAIN_DELAY=0s"}

	// Both start at once on an empty database.
	var a, b string
	var stopA, stopB func()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a, stopA = startServe(t, t.TempDir(), env) }()
	go func() { defer wg.Done(); b, stopB = startServe(t, t.TempDir(), env) }()
	wg.Wait()
	// stop ends both at once, as SIGTERM does (each finishes the batch in hand); once only.
	stop := sync.OnceFunc(func() {
		var wg sync.WaitGroup
		wg.Go(stopA)
		wg.Go(stopB)
		wg.Wait()
	})
	defer stop()
	db, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var applied, distinct int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied == 0 || applied != distinct {
		t.Errorf("schema_migrations: %d rows for %d versions, want each once", applied, distinct)
	}

	if _, errOut, code := runKilt(t, env, "Saryarka-Steppe-9\n", "user", "add", "--email", "aigerim@mail.kz", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	// Recovery requested on A, finished on B.
	if code, body := post(t, a+"/api/v1/recovery/email", `{"email":"aigerim@mail.kz"}`); code != 202 {
		t.Fatalf("recovery on A: %d %s", code, body)
	}
	msgs := smtp.Wait(t, 1, 20*time.Second)
	link := kilttest.ParseMail(t, msgs[0].Data).Link("/recovery/reset?token=")
	_, tok, _ := strings.Cut(link, "token=")
	if !strings.HasPrefix(link, "https://id.example.kz/recovery/reset?token=") || len(tok) != 43 {
		t.Fatalf("link %q", link)
	}
	if code, body := post(t, b+"/api/v1/recovery/reset", `{"token":"`+tok+`","password":"Kokpar-Baiga-2026","password_confirm":"Kokpar-Baiga-2026"}`); code != 204 {
		t.Fatalf("reset on B: %d %s", code, body)
	}
	if code, _ := post(t, a+"/api/v1/sessions", `{"identifier":"aigerim@mail.kz","password":"Kokpar-Baiga-2026"}`); code != 201 {
		t.Errorf("sign-in on A with the password set on B: %d", code)
	}

	// The per-identifier limit (5 an hour) counts requests made on both.
	statuses := []int{}
	for i := range 6 {
		url := a
		if i%2 == 1 {
			url = b
		}
		code, _ := post(t, url+"/api/v1/recovery/email", `{"email":"ghost@mail.kz"}`)
		statuses = append(statuses, code)
	}
	if fmt.Sprint(statuses) != "[202 202 202 202 202 429]" {
		t.Errorf("alternating requests: %v, want five 202 then 429", statuses)
	}

	// Registrations made on both: each confirmation mail is delivered exactly once.
	before := len(smtp.Messages())
	const n = 30
	for i := range n {
		url := a
		if i%2 == 1 {
			url = b
		}
		if code, body := post(t, url+"/api/v1/registrations", fmt.Sprintf(`{"email":"new%d@mail.kz","password":"Another-Pass-42","password_confirm":"Another-Pass-42","consent_version":%q}`, i, kilttest.ConsentVersion)); code != 202 {
			t.Fatalf("registration %d: %d %s", i, code, body)
		}
	}
	smtp.Wait(t, before+n, 30*time.Second)
	// Stopped, each instance has finished the batch in hand: a duplicate being sent has
	// arrived, and every confirmation is marked sent (one left pending would go out again).
	stop()
	var unsent int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'new%' AND status <> 'sent'`).Scan(&unsent); err != nil {
		t.Fatal(err)
	}
	if unsent != 0 {
		t.Errorf("%d confirmations not marked sent after both stopped", unsent)
	}
	got := map[string]int{}
	for _, m := range smtp.Messages() {
		got[m.To[0]]++
	}
	for i := range n {
		if c := got[fmt.Sprintf("new%d@mail.kz", i)]; c != 1 {
			t.Errorf("new%d@mail.kz got %d mails, want 1", i, c)
		}
	}
	if c := got["aigerim@mail.kz"]; c != 2 {
		t.Errorf("aigerim@mail.kz got %d mails, want 2 (the link and the notice)", c)
	}
}
