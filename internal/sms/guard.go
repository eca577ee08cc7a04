package sms

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nyaruka/phonenumbers"

	"kilt"
	"kilt/internal/outbox"
)

// The reasons the Guard blocks a message (outbox.BlockReason, and metric labels).
const (
	ReasonInvalidNumber     = "invalid_number"
	ReasonCountryNotAllowed = "country_not_allowed"
	ReasonNotMobile         = "not_mobile"
	ReasonBudgetSpent       = "budget_spent"
)

// Reasons returns every reason the Guard blocks for, so metrics can show each from zero.
func Reasons() []string {
	return []string{ReasonInvalidNumber, ReasonCountryNotAllowed, ReasonNotMobile, ReasonBudgetSpent}
}

// CodeBudgetUnavailable is the code of the temporary error returned when the budget could
// not be asked.
const CodeBudgetUnavailable = "sms_budget_unavailable"

// GuardConfig configures a Guard.
type GuardConfig struct {
	// Countries is the allow-list of destination regions, ISO 3166 alpha-2 codes; empty
	// means {"KZ"}.
	Countries []string
	// DailyBudget is how many SMS may be attempted per UTC day, all instances together;
	// 0 (or less, which configuration validation refuses) means unlimited.
	DailyBudget int
	// Clock tells the day; nil means time.Now.
	Clock func() time.Time
}

// Guard stands in front of an SMS gateway and refuses what must not cost money: a
// destination outside the allowed countries, not a mobile number, or beyond the day's
// budget. It is an outbox.Sender, safe for concurrent use.
type Guard struct {
	next      outbox.Sender
	budget    Budget
	countries map[string]bool
	limit     int
	clock     func() time.Time

	sent    atomic.Uint64
	failed  atomic.Uint64
	blocked map[string]*atomic.Uint64 // by reason; the map is never written after NewGuard
}

// NewGuard returns a Guard sending through next. budget may be nil only when the daily
// budget is unlimited; NewGuard panics otherwise, since that is a wiring mistake that
// would otherwise send without limit.
func NewGuard(next outbox.Sender, budget Budget, cfg GuardConfig) *Guard {
	if cfg.DailyBudget > 0 && budget == nil {
		panic("sms: NewGuard: a daily budget needs a Budget")
	}
	countries := cfg.Countries
	if len(countries) == 0 {
		countries = []string{"KZ"}
	}
	g := &Guard{
		next:      next,
		budget:    budget,
		countries: make(map[string]bool, len(countries)),
		limit:     max(cfg.DailyBudget, 0),
		clock:     cfg.Clock,
		blocked:   make(map[string]*atomic.Uint64, 4),
	}
	for _, c := range countries {
		g.countries[strings.ToUpper(strings.TrimSpace(c))] = true
	}
	if g.clock == nil {
		g.clock = time.Now
	}
	for _, r := range Reasons() {
		g.blocked[r] = new(atomic.Uint64)
	}
	return g
}

// Check runs the destination checks alone: e164 must be a valid number written exactly in
// E.164, in an allowed country, and a mobile number. It returns nil or an outbox.Blocked
// error with ReasonInvalidNumber, ReasonCountryNotAllowed or ReasonNotMobile. Flows call it
// before they even enqueue an SMS; Send calls it again before sending. Check does not
// count into Stats.
func (g *Guard) Check(e164 string) error {
	num, err := phonenumbers.Parse(e164, "")
	// Requiring the canonical spelling makes the number checked the very number a gateway
	// receives (a gateway may read a spelling differently than libphonenumber).
	if err != nil || !phonenumbers.IsValidNumber(num) ||
		phonenumbers.Format(num, phonenumbers.E164) != e164 {
		return outbox.Blocked(ReasonInvalidNumber)
	}
	// By region, not calling code: +7 is Kazakhstan's and Russia's.
	if !g.countries[phonenumbers.GetRegionCodeForNumber(num)] {
		return outbox.Blocked(ReasonCountryNotAllowed)
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return nil
	}
	return outbox.Blocked(ReasonNotMobile)
}

// Send checks m's destination, takes one SMS of the day's budget, and hands m to the
// gateway. A refused destination or a spent budget is an outbox.Blocked error and the
// gateway is not called; a budget that cannot be asked is a temporary error.
func (g *Guard) Send(ctx context.Context, m outbox.Rendered) error {
	if err := g.Check(m.To); err != nil {
		g.blocked[outbox.BlockReason(err)].Add(1)
		return err
	}
	day := g.day()
	if g.limit > 0 {
		ok, err := g.budget.Take(ctx, day, g.limit)
		if err != nil {
			return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeBudgetUnavailable,
				Message: "sms guard: budget", Err: err}
		}
		if !ok {
			g.blocked[ReasonBudgetSpent].Add(1)
			return outbox.Blocked(ReasonBudgetSpent)
		}
	}
	if err := g.next.Send(ctx, m); err != nil {
		g.failed.Add(1)
		g.refund(ctx, day, err)
		return err
	}
	g.sent.Add(1)
	return nil
}

// refund gives the SMS back to the budget when the gateway refused the message, so that an
// outage does not spend the day's budget on attempts that cost nothing. An error that
// does not say the gateway refused (no answer) keeps the SMS counted: it may have been
// sent. A failed refund leaves the budget counting one SMS too many, the safe side.
func (g *Guard) refund(ctx context.Context, day string, err error) {
	if g.limit == 0 || kilt.ErrorCode(err) != CodeRefused {
		return
	}
	if r, ok := g.budget.(BudgetRefunder); ok {
		_ = r.Refund(ctx, day)
	}
}

func (g *Guard) day() string { return g.clock().UTC().Format(time.DateOnly) }

// Stats is a snapshot of a Guard's counters since it was made.
type Stats struct {
	// Sent counts messages the gateway took.
	Sent uint64
	// Failed counts messages the gateway did not take (temporary or permanent errors).
	Failed uint64
	// Blocked counts messages the Guard refused, by reason; every reason is present.
	Blocked map[string]uint64
}

// Stats returns the Guard's counters.
func (g *Guard) Stats() Stats {
	s := Stats{Sent: g.sent.Load(), Failed: g.failed.Load(), Blocked: make(map[string]uint64, len(g.blocked))}
	for r, n := range g.blocked {
		s.Blocked[r] = n.Load()
	}
	return s
}

// BudgetLeft reports how many SMS today's budget has left. known is false when the budget
// is unlimited or the Budget cannot say (it is not a BudgetReporter).
func (g *Guard) BudgetLeft(ctx context.Context) (left int, known bool, err error) {
	r, ok := g.budget.(BudgetReporter)
	if g.limit == 0 || !ok {
		return 0, false, nil
	}
	used, err := r.Used(ctx, g.day())
	if err != nil {
		return 0, false, err
	}
	return max(g.limit-used, 0), true, nil
}
