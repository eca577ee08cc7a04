package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/kilttest"
	ksmtp "kilt/internal/mail"
	"kilt/internal/mail/smtptest"
	"kilt/internal/metrics"
	"kilt/internal/notify"
	"kilt/internal/outbox"
	"kilt/internal/sms"
	"kilt/internal/sqlstore"
	"kilt/internal/sqlstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// rig is a dispatcher on a real database with a real SMTP server and a real webhook SMS
// gateway behind it, and a clock the test moves.
type rig struct {
	url     string
	db      *sqlstore.DB
	store   *sqlstore.Outbox
	smtp    *smtptest.Server
	gateway *kilttest.SMSGateway
	clock   *kilttest.Clock
	metrics *metrics.Metrics
	senders map[outbox.Channel]outbox.Sender
}

func newRig(t *testing.T, dialect string) *rig {
	t.Helper()
	r := &rig{clock: kilttest.NewClock(), metrics: metrics.New()}
	r.url = kilttest.DatabaseURL(t, dialect)
	r.db = openDB(t, r.url)
	r.store = sqlstore.NewOutbox(r.db)
	r.smtp = smtptest.Start(t, smtptest.Options{Security: smtptest.Plain})
	r.gateway = kilttest.StartSMSGateway(t)
	cfg, err := ksmtp.ParseURL("smtp://"+r.smtp.Addr()+"?starttls=false", "Kilt <no-reply@kilt.test>")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 2 * time.Second
	mailer, err := ksmtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mailer.Close() })
	guard := sms.NewGuard(sms.NewWebhook(r.gateway.URL, "", sms.NewHTTPClient(time.Second, 2*time.Second)),
		sqlstore.NewSMSBudget(r.db), sms.GuardConfig{Countries: []string{"KZ"}, DailyBudget: 1000, Clock: r.clock.Now})
	r.senders = map[outbox.Channel]outbox.Sender{outbox.Email: mailer, outbox.SMS: guard}
	return r
}

func openDB(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func (r *rig) dispatcher(store outbox.Store) *outbox.Dispatcher {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return outbox.NewDispatcher(store, r.senders, notify.New(notify.Config{}), r.clock.Now,
		outbox.Config{Workers: 4, MaxAttempts: 10, Lease: time.Minute, Poll: 20 * time.Millisecond}, log, r.metrics)
}

// enqueueMail puts n recovery e-mails in the outbox, to distinct recipients.
func (r *rig) enqueueMail(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		m := &outbox.Message{Channel: outbox.Email, Kind: outbox.RecoveryLink, Lang: "kk", To: fmt.Sprintf("user%d@mail.kz", i),
			Params:    map[string]string{"minutes": "30"},
			Secret:    map[string]string{"link": fmt.Sprintf("https://kilt.test/recovery/reset?token=tok%03d", i)},
			CreatedAt: r.clock.Now()}
		if err := r.store.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *rig) enqueueSMS(t *testing.T, to ...string) {
	t.Helper()
	for _, n := range to {
		m := &outbox.Message{Channel: outbox.SMS, Kind: outbox.RecoveryCode, Lang: "ru", To: n,
			Params: map[string]string{"minutes": "5"}, Secret: map[string]string{"code": "123456"}, CreatedAt: r.clock.Now()}
		if err := r.store.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// drain steps d, moving the clock past any backoff between steps, until nothing is due
// or rounds run out.
func drain(t *testing.T, r *rig, d *outbox.Dispatcher, rounds int) {
	t.Helper()
	for range rounds {
		if _, err := d.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(2 * time.Hour) // beyond the longest backoff
	}
}

// recipients counts how often each address received a message.
func recipients(t *testing.T, msgs []smtptest.Message) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range msgs {
		parsed, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatalf("received mail does not parse: %v", err)
		}
		out[parsed.Header.Get("To")]++
	}
	return out
}

func statuses(t *testing.T, s outbox.Store) map[outbox.Status]int {
	t.Helper()
	list, err := s.List(context.Background(), outbox.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[outbox.Status]int{}
	for _, m := range list {
		out[m.Status]++
		if (m.Status == outbox.StatusSent || m.Status == outbox.StatusAbandoned || m.Status == outbox.StatusBlocked) && m.Secret != nil {
			t.Errorf("message %d is %s but keeps its secret", m.ID, m.Status)
		}
	}
	return out
}

func TestSMTPDownThenBackDeliversEachOnce(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			r := newRig(t, dialect)
			d := r.dispatcher(r.store)
			r.enqueueMail(t, 20)
			r.smtp.SetDown(true)
			drain(t, r, d, 3)
			if got := statuses(t, r.store)[outbox.StatusPending]; got != 20 {
				t.Fatalf("while down: %d pending, want 20 kept for retry", got)
			}
			r.smtp.SetDown(false)
			r.smtp.Reject(smtptest.AtData, 451, 5) // back, but refusing for a moment
			drain(t, r, d, 3)
			got := recipients(t, r.smtp.Messages())
			if len(got) != 20 {
				t.Errorf("%d distinct recipients got mail, want 20", len(got))
			}
			for to, n := range got {
				if n != 1 {
					t.Errorf("%s got %d messages, want exactly 1", to, n)
				}
			}
			if st := statuses(t, r.store); st[outbox.StatusSent] != 20 {
				t.Errorf("statuses %v, want 20 sent", st)
			}
			if v := metricSum(t, r.metrics, "kilt_outbox_send_failures_total"); v < 20 {
				t.Errorf("send failures metric %v, want at least one per message while down", v)
			}
			if v := metricSum(t, r.metrics, "kilt_outbox_sent_total"); v != 20 {
				t.Errorf("sent metric %v, want 20", v)
			}
		})
	}
}

func TestGatewayErrorsThenRecoversDeliversEverySMS(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			r := newRig(t, dialect)
			d := r.dispatcher(r.store)
			numbers := []string{"+77011234567", "+77021234567", "+77051234567", "+77071234567", "+77471234567", "+77771234567"}
			r.enqueueSMS(t, numbers...)
			r.gateway.Fail(9)
			drain(t, r, d, 5)
			var got []string
			for _, m := range r.gateway.Messages() {
				got = append(got, m.To)
				if !strings.Contains(m.Text, "123456") || m.Lang != "ru" {
					t.Errorf("SMS %q (%s) does not carry the code in Russian", m.Text, m.Lang)
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(numbers, ",") {
				t.Errorf("gateway got %v, want each of %v once", got, numbers)
			}
			if r.gateway.Hits() != len(numbers)+9 {
				t.Errorf("gateway answered %d requests, want %d (9 failures, then each once)", r.gateway.Hits(), len(numbers)+9)
			}
			if st := statuses(t, r.store); st[outbox.StatusSent] != len(numbers) {
				t.Errorf("statuses %v", st)
			}
		})
	}
}

// TestDeadDispatchersClaimIsTakenOverAfterLease: a dispatcher that claimed a message and
// died never marks it; another sends it once the lease has run out, not before.
func TestDeadDispatchersClaimIsTakenOverAfterLease(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			r := newRig(t, dialect)
			r.enqueueMail(t, 3)
			claimed, err := r.store.Claim(context.Background(), outbox.Email, "killed-dispatcher", r.clock.Now(), time.Minute, 10)
			if err != nil || len(claimed) != 3 {
				t.Fatalf("claim: %d, %v", len(claimed), err)
			}
			d := r.dispatcher(r.store)
			if n, _ := d.Step(context.Background()); n != 0 {
				t.Fatalf("claimed %d messages still under another's lease", n)
			}
			r.clock.Advance(61 * time.Second)
			if n, _ := d.Step(context.Background()); n != 3 {
				t.Fatalf("after the lease: claimed %d, want 3", n)
			}
			if got := len(r.smtp.Messages()); got != 3 {
				t.Errorf("delivered %d, want 3", got)
			}
			list, _ := r.store.List(context.Background(), outbox.Filter{})
			for _, m := range list {
				if m.Status != outbox.StatusSent || m.Attempts != 2 {
					t.Errorf("message %d: %s after %d attempts, want sent after 2", m.ID, m.Status, m.Attempts)
				}
			}
		})
	}
}

// TestTwoDispatchersNeverSendTwice: two dispatchers, each with its own connection pool as
// two instances have, drain one outbox together; every message is sent exactly once.
func TestTwoDispatchersNeverSendTwice(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			r := newRig(t, dialect)
			const n = 300
			r.enqueueMail(t, n)
			other := sqlstore.NewOutbox(openDB(t, r.url))
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var ds []*outbox.Dispatcher
			for _, s := range []outbox.Store{r.store, other} {
				d := r.dispatcher(s)
				ds = append(ds, d)
				wg.Add(1)
				go func() { defer wg.Done(); d.Run(ctx) }()
			}
			msgs := r.smtp.Wait(t, n, 60*time.Second)
			cancel()
			wg.Wait() // each finished the batch in hand: a duplicate being sent has arrived
			// Nothing is left for either: a message claimed by both, or never marked sent,
			// would go out again here.
			for i, d := range ds {
				if sent, err := d.Step(context.Background()); err != nil || sent != 0 {
					t.Errorf("dispatcher %d after the outbox drained: sent %d, %v; want nothing", i, sent, err)
				}
			}
			got := recipients(t, r.smtp.Messages())
			if len(msgs) < n || len(got) != n {
				t.Errorf("%d messages to %d recipients, want %d to %d", len(r.smtp.Messages()), len(got), n, n)
			}
			for to, c := range got {
				if c != 1 {
					t.Errorf("%s got %d messages", to, c)
				}
			}
		})
	}
}

func TestBlockedSMSIsVisibleNotSilent(t *testing.T) {
	r := newRig(t, "sqlite")
	d := r.dispatcher(r.store)
	r.enqueueSMS(t, "+79161234567", "+77272500000", "+77011234567") // Russian mobile, Almaty landline, KZ mobile
	drain(t, r, d, 1)
	if got := r.gateway.Messages(); len(got) != 1 || got[0].To != "+77011234567" {
		t.Errorf("gateway got %v, want only the Kazakh mobile", got)
	}
	list, _ := r.store.List(context.Background(), outbox.Filter{Status: outbox.StatusBlocked})
	reasons := map[string]bool{}
	for _, m := range list {
		reasons[m.LastError] = true
	}
	if !reasons["country_not_allowed"] || !reasons["not_mobile"] || len(list) != 2 {
		t.Errorf("blocked messages %v, want one country_not_allowed and one not_mobile", reasons)
	}
	if v := metricSum(t, r.metrics, "kilt_outbox_blocked_total"); v != 2 {
		t.Errorf("blocked metric: %v, want 2", v)
	}
}

// metricSum adds up every series of a metric family.
func metricSum(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			sum += s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	return sum
}

// TestCodesDoNotWaitBehindABurst: a burst of e-mail does not delay an SMS code (each channel
// is its own lane), and within a lane links and codes go before notices.
func TestCodesDoNotWaitBehindABurst(t *testing.T) {
	r := newRig(t, "sqlite")
	ctx := context.Background()
	for i := range 200 {
		m := &outbox.Message{Channel: outbox.Email, Kind: outbox.PasswordChanged, Lang: "kk", To: fmt.Sprintf("n%d@mail.kz", i),
			Params: map[string]string{"time": r.clock.Now().Format(time.RFC3339), "recovery_url": "https://kilt.test/recovery"}, CreatedAt: r.clock.Now()}
		if err := r.store.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	r.clock.Advance(time.Second)
	r.enqueueMail(t, 1) // a recovery link, queued after the notices
	r.enqueueSMS(t, "+77011234567")
	got, err := r.store.Claim(ctx, outbox.Email, "me", r.clock.Now(), time.Minute, 1)
	if err != nil || len(got) != 1 || got[0].Kind != outbox.RecoveryLink {
		t.Fatalf("first e-mail claimed: %+v, %v; want the link before 200 older notices", got, err)
	}
	sms, err := r.store.Claim(ctx, outbox.SMS, "me", r.clock.Now(), time.Minute, 64)
	if err != nil || len(sms) != 1 || sms[0].Kind != outbox.RecoveryCode {
		t.Fatalf("SMS lane: %+v, %v; want the code whatever the e-mail backlog", sms, err)
	}
}

// TestSentMessagesAreMarkedTogether: the messages of a batch delivered are marked sent in one
// statement once the batch is done, not one statement (and, on PostgreSQL, one commit) each.
// Before, a step of ten e-mails ran twelve statements: the two claims and ten marks.
func TestSentMessagesAreMarkedTogether(t *testing.T) {
	for _, dialect := range kilttest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			r := newRig(t, dialect)
			d := r.dispatcher(r.store)
			r.enqueueMail(t, 10)
			statements, transactions := r.db.Counts()
			if n, err := d.Step(context.Background()); err != nil || n != 10 {
				t.Fatalf("step: %d, %v; want 10", n, err)
			}
			s, x := r.db.Counts()
			// A claim for each channel (e-mail, SMS) and one mark.
			if s-statements != 3 || x-transactions != 3 {
				t.Errorf("the step ran %d statements in %d transactions, want 3 in 3", s-statements, x-transactions)
			}
			if st := statuses(t, r.store); st[outbox.StatusSent] != 10 {
				t.Errorf("statuses %v, want 10 sent", st)
			}
		})
	}
}
