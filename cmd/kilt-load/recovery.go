package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
)

// recoveryRequest is the recovery-email and recovery-phone scenarios: the clients ask for
// recovery again and again, every other request of the run for an identifier that has an
// account (a load account, created first) and the others for one that has none, drawn at
// random each time so that the per-identifier limit never meets the same one twice. The known and
// unknown requests are timed apart: they must be indistinguishable (docs/security.md, "No enumeration"), and the report
// shows whether they are.
//
// The request path is measured, not delivery: what the server then sends to the known
// identifiers (as many as KILT_LIMIT_RECOVERY_ACCOUNT lets through) goes to the tool's sink.
type recoveryRequest struct {
	name, summary string
	path          string
	field         string // the JSON field of the identifier
	phones        bool
	known         func(i int) string
	unknown       func() string

	url  string
	env  *Env
	next atomic.Int64 // the operations started so far
}

func newRecoveryEmail() *recoveryRequest {
	return &recoveryRequest{
		name: "recovery-email", path: "/api/v1/recovery/email", field: "email",
		summary: "ask for a recovery link (POST /api/v1/recovery/email), half for known addresses, half for unknown; needs --database",
		known:   loadAccounts.email,
		unknown: func() string { return fmt.Sprintf("nobody-%016x@load.kilt.test", rand.Uint64()) },
	}
}

func newRecoveryPhone() *recoveryRequest {
	return &recoveryRequest{
		name: "recovery-phone", path: "/api/v1/recovery/phone", field: "phone", phones: true,
		summary: "ask for a recovery code (POST /api/v1/recovery/phone), half for known numbers, half for unknown; needs --database",
		known:   loadAccounts.phone,
		unknown: func() string { return fmt.Sprintf("%s%07d", unknownPhoneBlock, rand.IntN(10_000_000)) },
	}
}

func (r *recoveryRequest) Name() string    { return r.name }
func (r *recoveryRequest) Summary() string { return r.summary }

// Sinks: the known identifiers get messages (up to the account limit); the sink takes them,
// so that the server is not left retrying a dead address.
func (r *recoveryRequest) Sinks() (mail, sms bool) { return !r.phones, r.phones }

func (r *recoveryRequest) Requirements(a sinkAddrs) []requirement {
	reqs := []requirement{needNoIPLimit, needNoIdentifierLimit}
	const why = "the messages to the known identifiers go nowhere, and the server keeps retrying them"
	if r.phones {
		return append(reqs, needSMSSink(a.SMS, why)...)
	}
	return append(reqs, needMailSink(a.Mail, why))
}

// Prepare makes sure the load accounts exist, with their verified e-mail addresses and
// phone numbers.
func (r *recoveryRequest) Prepare(ctx context.Context, env *Env) error {
	if !env.HasDatabase {
		return fmt.Errorf("the %s scenario creates its known accounts first: give --database (the server's KILT_DATABASE_URL)", r.name)
	}
	r.env = env
	r.url = env.endpoint(r.path)
	return prepareAccounts(ctx, env, loadAccounts, env.Accounts, r.phones)
}

// Do sends the run's next request: the even ones of the run for a known identifier (the
// accounts in turn, so that each is asked for as seldom as can be), the odd ones for an
// unknown one — so a run of --count N sends exactly N/2 of each (rounded up for known).
func (r *recoveryRequest) Do(ctx context.Context, _ int) (Outcome, error) {
	n := r.next.Add(1) - 1
	var o Outcome
	var id string
	if n%2 == 0 {
		o.Class = "known"
		id = r.known(int(n / 2 % int64(r.env.Accounts)))
	} else {
		o.Class = "unknown"
		id = r.unknown()
	}
	body, err := json.Marshal(map[string]string{r.field: id})
	if err != nil {
		return o, errors.New("encoding the request")
	}
	o.Status, _, err = r.env.post(ctx, r.url, body)
	return o, err
}

// FloorStatements: a recovery request's transaction reads and writes the rate-limit rows
// and records the request (the rest is done after the answer, by the processor).
func (r *recoveryRequest) FloorStatements() int { return 3 }

// Expected: every request for a known identifier answered 202 sends one message, with the
// per-account limit off.
func (r *recoveryRequest) Expected(t *tally) int64 {
	c, ok := t.Classes["known"]
	if !ok {
		return 0
	}
	var n int64
	for status, k := range c.Statuses {
		if status >= 200 && status < 300 {
			n += k
		}
	}
	return n
}
