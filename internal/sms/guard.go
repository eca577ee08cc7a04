package sms

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nyaruka/phonenumbers"

	"kilt"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
)

// The reasons the Guard blocks a message (outbox.BlockReason, and metric labels).
const (
	ReasonInvalidNumber     = "invalid_number"
	ReasonCountryNotAllowed = "country_not_allowed"
	ReasonNotMobile         = "not_mobile"
	ReasonBudgetSpent       = "budget_spent"
	// ReasonRegistrationBudget: a registration SMS when the share of the day's budget that
	// registrations may spend is spent (the rest is kept for recovery codes).
	ReasonRegistrationBudget = "registration_budget_spent"
	// ReasonNumberRange: a registration SMS to a range of numbers that had its day's share.
	ReasonNumberRange = "number_range_limited"
)

// Reasons returns every reason the Guard blocks for, so metrics can show each from zero.
func Reasons() []string {
	return []string{ReasonInvalidNumber, ReasonCountryNotAllowed, ReasonNotMobile, ReasonBudgetSpent,
		ReasonRegistrationBudget, ReasonNumberRange}
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
	// RecoveryReserve is the percentage (0–100) of DailyBudget that registration SMS may not
	// spend: a registration code goes to any number anyone types, a recovery code only to a
	// number an account verified, so anonymous registrations must not be able to spend the
	// whole day's budget and leave citizens without their recovery codes. Registration SMS
	// (RegistrationKinds) are sent only while fewer than DailyBudget·(100−RecoveryReserve)/100
	// SMS of the day are spent; the other kinds may spend the whole budget. 0: no reserve.
	RecoveryReserve int
	// RangeLimit caps registration SMS per range of numbers: the E.164 number but its last
	// RangeDigits digits (10,000 numbers), where an SMS-pumping fraud rents its numbers.
	// Counted in Limits, keyed by a keyed hash (RangeKey) so storage holds no number
	// prefixes. A zero limit (or nil Limits) caps nothing.
	RangeLimit ratelimit.Limit
	Limits     ratelimit.Store
	RangeKey   []byte
	// Clock tells the day; nil means time.Now.
	Clock func() time.Time
}

// RangeDigits is how many trailing digits a number range leaves open.
const RangeDigits = 4

// RegistrationKinds are the SMS anyone can cause to be sent to any number by registering
// it: they spend from the registration share of the budget and are capped per range.
// A new number's code and the notice to a number someone tried to add to another account
// (SPEC §9) are such SMS too.
var RegistrationKinds = []outbox.Kind{outbox.RegistrationCode, outbox.AlreadyRegistered, outbox.ChannelCode, outbox.ChannelTaken}

// isRegistration reports whether an SMS of kind k is a registration SMS.
func isRegistration(k outbox.Kind) bool { return slices.Contains(RegistrationKinds, k) }

// Guard stands in front of an SMS gateway and refuses what must not cost money: a
// destination outside the allowed countries, not a mobile number, or beyond the day's
// budget. It is an outbox.Sender, safe for concurrent use.
type Guard struct {
	next      outbox.Sender
	budget    Budget
	countries map[string]bool
	limit     int
	regLimit  int // the budget registration SMS may spend; 0 when none
	rangeCap  ratelimit.Limit
	limits    ratelimit.Store
	rangeKey  []byte
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
	if cfg.RangeLimit.Enabled() && cfg.Limits == nil {
		panic("sms: NewGuard: a range limit needs a ratelimit.Store")
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
		rangeCap:  cfg.RangeLimit,
		limits:    cfg.Limits,
		rangeKey:  cfg.RangeKey,
		clock:     cfg.Clock,
		blocked:   make(map[string]*atomic.Uint64, len(Reasons())),
	}
	if g.limit > 0 {
		// Rounded down, so the reserve is never less than asked.
		g.regLimit = g.limit * (100 - min(max(cfg.RecoveryReserve, 0), 100)) / 100
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

// Send checks m's destination, a registration SMS's number range, takes one SMS of the
// day's budget (of its registration share for a registration SMS), and hands m to the
// gateway. A refused destination, a range over its cap or a spent budget is an
// outbox.Blocked error and the gateway is not called; a budget or a range counter that
// cannot be asked is a temporary error.
func (g *Guard) Send(ctx context.Context, m outbox.Rendered) error {
	if err := g.Check(m.To); err != nil {
		g.blocked[outbox.BlockReason(err)].Add(1)
		return err
	}
	reg := isRegistration(m.Kind)
	if reg && g.rangeCap.Enabled() {
		key := kilt.KeyedHash(g.rangeKey, "range:"+m.To[:len(m.To)-RangeDigits])
		res, err := g.limits.Take(ctx, []ratelimit.Check{{Limit: g.rangeCap, Key: key}}, g.clock())
		if err != nil {
			return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeBudgetUnavailable,
				Message: "sms guard: number range", Err: err}
		}
		if !res.Allowed {
			g.blocked[ReasonNumberRange].Add(1)
			return outbox.Blocked(ReasonNumberRange)
		}
	}
	day := g.day()
	if g.limit > 0 {
		limit, reason := g.limit, ReasonBudgetSpent
		if reg {
			limit, reason = g.regLimit, ReasonRegistrationBudget
		}
		// Take treats a limit of 0 as unlimited: a share of nothing is refused here.
		ok := false
		if limit > 0 {
			var err error
			if ok, err = g.budget.Take(ctx, day, limit); err != nil {
				return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeBudgetUnavailable,
					Message: "sms guard: budget", Err: err}
			}
		}
		if !ok {
			g.blocked[reason].Add(1)
			return outbox.Blocked(reason)
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
