package outbox

import (
	"context"
	"time"
)

// Status is where a message is in its life.
type Status string

// The statuses of a message.
const (
	StatusPending   Status = "pending"   // waiting for its first or next attempt
	StatusSending   Status = "sending"   // claimed by a dispatcher until its lease ends
	StatusSent      Status = "sent"      // accepted by the transport
	StatusAbandoned Status = "abandoned" // failed permanently or too often
	StatusBlocked   Status = "blocked"   // refused by Kilt's own rules (country, mobile, budget)
)

// Message is one e-mail or SMS in the outbox.
type Message struct {
	ID        int64
	Channel   Channel
	Kind      Kind
	Lang      string
	To        string
	AccountID int64 // 0: none (a registration not yet confirmed)
	// Params are the template data that may be kept; Secret holds the data that must not
	// outlive delivery (link, code) and is erased once the message is sent or given up.
	Params map[string]string
	Secret map[string]string

	Status        Status
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        time.Time
}

// Data is the template data of the message: its params and its secret.
func (m *Message) Data() map[string]string {
	d := make(map[string]string, len(m.Params)+len(m.Secret))
	for k, v := range m.Params {
		d[k] = v
	}
	for k, v := range m.Secret {
		d[k] = v
	}
	return d
}

// Failure is the outcome of an attempt that did not deliver.
type Failure struct {
	Error string
	// Next is when to try again; zero with Abandon or Block.
	Next    time.Time
	Abandon bool
	// BlockReason, when set, marks the message blocked.
	BlockReason string
}

// Filter selects messages for operators.
type Filter struct {
	Status Status // "" for any
	Limit  int
}

// Store is what the outbox needs from storage. Messages are inserted by the stores of the
// flows, in the transactions that cause them.
type Store interface {
	// Enqueue inserts m as pending, due at once, setting its ID. Flows enqueue inside their
	// own transactions; this is for messages that stand alone.
	Enqueue(ctx context.Context, m *Message) error
	// Claim takes up to limit messages of the channel that are due (pending and due, or
	// sending with a lease that ended) for owner until now+lease, counting an attempt for
	// each, and returns them: messages carrying a link or a code first, then by due time.
	// Several dispatchers claiming at once never get the same message.
	Claim(ctx context.Context, ch Channel, owner string, now time.Time, lease time.Duration, limit int) ([]Message, error)
	// MarkSent records the delivery of the messages of ids and erases their secrets, those
	// of them whose claim owner still holds, in one statement.
	MarkSent(ctx context.Context, ids []int64, owner string, now time.Time) error
	// MarkFailed records a failed attempt: retry at f.Next, or abandon or block (erasing
	// the secret), if owner still holds the claim.
	MarkFailed(ctx context.Context, id int64, owner string, now time.Time, f Failure) error
	// List returns messages newest first.
	List(ctx context.Context, f Filter) ([]Message, error)
	// Retry makes an abandoned or blocked message pending again with fresh attempts. It
	// returns a *kilt.Error of kind conflict when the message's secret was already erased
	// (the person must ask again) or the message is not abandoned or blocked.
	Retry(ctx context.Context, id int64, now time.Time) error
	// Depth reports how many messages wait (pending or sending) and the creation time of the
	// oldest (zero when none).
	Depth(ctx context.Context) (int, time.Time, error)
}

// Waker is told that a message was enqueued, so the dispatcher looks at once instead of at
// its next poll.
type Waker interface{ Wake() }
