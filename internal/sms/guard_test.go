package sms

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kilt/internal/outbox"
)

func TestGuardCheck(t *testing.T) {
	tests := []struct {
		name      string
		countries []string
		number    string
		want      string // block reason, "" when allowed
	}{
		{"Kcell/Activ mobile 701", nil, "+77011234567", ""},
		{"Altel mobile 747", nil, "+77471234567", ""},
		{"Beeline KZ mobile 771", nil, "+77711234567", ""},
		{"Almaty landline 727", nil, "+77272580000", ReasonNotMobile},
		{"Astana landline 717", nil, "+77172123456", ReasonNotMobile},
		{"Russian mobile, default countries", nil, "+79123456789", ReasonCountryNotAllowed},
		{"Russian mobile, KZ and RU", []string{"KZ", "RU"}, "+79123456789", ""},
		{"Russian mobile, lower-case list", []string{"kz", "ru"}, "+79123456789", ""},
		{"Kazakh mobile, RU only", []string{"RU"}, "+77011234567", ReasonCountryNotAllowed},
		{"Moscow landline, KZ and RU", []string{"KZ", "RU"}, "+74951234567", ReasonNotMobile},
		{"German mobile", nil, "+4915123456789", ReasonCountryNotAllowed},
		{"too short", nil, "+7123", ReasonInvalidNumber},
		{"national spelling", nil, "87011234567", ReasonInvalidNumber},
		{"spaced spelling", nil, "+7 701 123 45 67", ReasonInvalidNumber},
		{"letters", nil, "+7701CALLNOW", ReasonInvalidNumber},
		{"empty", nil, "", ReasonInvalidNumber},
		{"not a number", nil, "someone@example.com", ReasonInvalidNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGuard(nil, nil, GuardConfig{Countries: tt.countries})
			err := g.Check(tt.number)
			if got := outbox.BlockReason(err); got != tt.want {
				t.Errorf("Check(%q) = %v, want reason %q", tt.number, err, tt.want)
			}
			if err != nil && tt.want == "" {
				t.Errorf("Check(%q) = %v, want nil", tt.number, err)
			}
		})
	}
}

// clock is a test clock moved by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newClock() *clock { return &clock{now: time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)} }

// acceptingGateway is a webhook endpoint taking every message.
func acceptingGateway(t *testing.T) *gateway {
	t.Helper()
	return newGateway(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
}

func send(t *testing.T, s outbox.Sender, to string) error {
	t.Helper()
	m := testMessage()
	m.To = to
	return s.Send(context.Background(), m)
}

func TestGuardBlocksBeforeTheGateway(t *testing.T) {
	gw := acceptingGateway(t)
	budget := new(MemoryBudget)
	g := NewGuard(NewWebhook(gw.URL, "", nil), budget, GuardConfig{DailyBudget: 10})

	tests := []struct {
		number string
		want   string
	}{
		{"+77272580000", ReasonNotMobile},
		{"+79123456789", ReasonCountryNotAllowed},
		{"+7123", ReasonInvalidNumber},
		{"+7 701 123 45 67", ReasonInvalidNumber},
	}
	for _, tt := range tests {
		err := send(t, g, tt.number)
		if got := outbox.BlockReason(err); got != tt.want {
			t.Errorf("Send to %q: got %v, want blocked %q", tt.number, err, tt.want)
		}
		checkClean(t, err)
	}
	if got := gw.requests.Load(); got != 0 {
		t.Errorf("gateway got %d requests, want 0", got)
	}
	if used, _ := budget.Used(context.Background(), "2026-11-25"); used != 0 {
		t.Errorf("budget used %d, want 0: a blocked destination must not spend it", used)
	}
	want := Stats{Blocked: map[string]uint64{
		ReasonInvalidNumber: 2, ReasonCountryNotAllowed: 1, ReasonNotMobile: 1, ReasonBudgetSpent: 0,
		ReasonRegistrationBudget: 0, ReasonNumberRange: 0,
	}}
	if d := cmp.Diff(want, g.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestGuardBudget(t *testing.T) {
	gw := acceptingGateway(t)
	clk := newClock()
	g := NewGuard(NewWebhook(gw.URL, "", nil), new(MemoryBudget), GuardConfig{DailyBudget: 3, Clock: clk.Now})
	ctx := context.Background()

	for i := range 3 {
		if err := send(t, g, testNumber); err != nil {
			t.Fatalf("send %d: got %v, want nil", i+1, err)
		}
	}
	if left, known, err := g.BudgetLeft(ctx); left != 0 || !known || err != nil {
		t.Errorf("BudgetLeft = %d, %v, %v; want 0, true, nil", left, known, err)
	}
	err := send(t, g, testNumber)
	if got := outbox.BlockReason(err); got != ReasonBudgetSpent {
		t.Errorf("send 4: got %v, want blocked %q", err, ReasonBudgetSpent)
	}
	if got := gw.requests.Load(); got != 3 {
		t.Errorf("gateway got %d requests, want 3", got)
	}

	clk.now = clk.now.Add(2 * time.Hour) // 00:00 UTC the next day
	if err := send(t, g, testNumber); err != nil {
		t.Errorf("first send of the next day: got %v, want nil", err)
	}
	if left, known, err := g.BudgetLeft(ctx); left != 2 || !known || err != nil {
		t.Errorf("BudgetLeft = %d, %v, %v; want 2, true, nil", left, known, err)
	}
	want := Stats{Sent: 4, Blocked: map[string]uint64{
		ReasonInvalidNumber: 0, ReasonCountryNotAllowed: 0, ReasonNotMobile: 0, ReasonBudgetSpent: 1,
		ReasonRegistrationBudget: 0, ReasonNumberRange: 0,
	}}
	if d := cmp.Diff(want, g.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestGuardDayIsUTC(t *testing.T) {
	gw := acceptingGateway(t)
	almaty := time.FixedZone("Asia/Almaty", 5*3600)
	clk := &clock{now: time.Date(2026, 11, 26, 3, 0, 0, 0, almaty)} // 2026-11-25 22:00 UTC
	budget := new(MemoryBudget)
	g := NewGuard(NewWebhook(gw.URL, "", nil), budget, GuardConfig{DailyBudget: 3, Clock: clk.Now})
	if err := send(t, g, testNumber); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if used, _ := budget.Used(context.Background(), "2026-11-25"); used != 1 {
		t.Errorf("used on 2026-11-25: got %d, want 1", used)
	}
}

func TestGuardRefundsRefusals(t *testing.T) {
	tests := []struct {
		name     string
		gateway  func(t *testing.T) *gateway
		client   *http.Client
		want     outcome
		wantLeft int
	}{
		{"refused for good", func(t *testing.T) *gateway {
			return newGateway(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) })
		}, nil, permanent, 3},
		{"refused for now", func(t *testing.T) *gateway {
			return newGateway(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
		}, nil, temporary, 3},
		// No answer: the message may have gone out and been billed, so it stays counted.
		{"no answer", hungGateway, shortClient(), temporary, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := tt.gateway(t)
			g := NewGuard(NewWebhook(gw.URL, "", tt.client), new(MemoryBudget), GuardConfig{DailyBudget: 3, Clock: newClock().Now})
			checkOutcome(t, send(t, g, testNumber), tt.want)
			left, _, err := g.BudgetLeft(context.Background())
			if left != tt.wantLeft || err != nil {
				t.Errorf("BudgetLeft = %d, %v; want %d, nil", left, err, tt.wantLeft)
			}
			if got := g.Stats().Failed; got != 1 {
				t.Errorf("got %d failed, want 1", got)
			}
		})
	}
}

// brokenBudget is a Budget whose store is down.
type brokenBudget struct{}

var errStoreDown = errors.New("store down")

func (brokenBudget) Take(context.Context, string, int) (bool, error) { return false, errStoreDown }

func TestGuardBudgetUnavailable(t *testing.T) {
	gw := acceptingGateway(t)
	g := NewGuard(NewWebhook(gw.URL, "", nil), brokenBudget{}, GuardConfig{DailyBudget: 3})
	err := send(t, g, testNumber)
	checkOutcome(t, err, temporary)
	checkCode(t, err, CodeBudgetUnavailable)
	if !errors.Is(err, errStoreDown) {
		t.Errorf("got %v, want it to wrap %v", err, errStoreDown)
	}
	if got := gw.requests.Load(); got != 0 {
		t.Errorf("gateway got %d requests, want 0", got)
	}
	if _, known, _ := g.BudgetLeft(context.Background()); known {
		t.Error("BudgetLeft known for a Budget that cannot report, want unknown")
	}
}

func TestGuardUnlimited(t *testing.T) {
	gw := acceptingGateway(t)
	g := NewGuard(NewWebhook(gw.URL, "", nil), nil, GuardConfig{})
	for i := range 5 {
		if err := send(t, g, testNumber); err != nil {
			t.Fatalf("send %d: got %v, want nil", i+1, err)
		}
	}
	if _, known, _ := g.BudgetLeft(context.Background()); known {
		t.Error("BudgetLeft known for an unlimited budget, want unknown")
	}
	if got := g.Stats().Sent; got != 5 {
		t.Errorf("got %d sent, want 5", got)
	}
}

func TestNewGuardNeedsBudget(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewGuard with a daily budget and no Budget did not panic")
		}
	}()
	NewGuard(NewLog(nil, 0), nil, GuardConfig{DailyBudget: 1})
}
