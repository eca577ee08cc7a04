package account

import (
	"context"
	"time"
)

// Export is everything Kilt keeps about an account that its owner may take away ("Download
// my data", SPEC §9): the account, its channels, its sessions, its pending deletion and its
// audit trail. It holds no password hash, no token nor token hash, no code: the pages and
// the API serve it as JSON as it is.
type Export struct {
	ExportedAt time.Time       `json:"exported_at"`
	Account    ExportAccount   `json:"account"`
	Channels   []ExportChannel `json:"channels"`
	Sessions   []ExportSession `json:"sessions"`
	// Deletion is the pending deletion, if any.
	Deletion *ExportDeletion `json:"deletion,omitempty"`
	Audit    []ExportEvent   `json:"audit"`
}

// ExportAccount is the account itself.
type ExportAccount struct {
	ID                int64     `json:"id"`
	Lang              string    `json:"lang,omitempty"`
	Locked            bool      `json:"locked"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
}

// ExportChannel is an e-mail address or a phone number of the account.
type ExportChannel struct {
	Kind     string `json:"kind"` // email or phone
	Value    string `json:"value"`
	Verified bool   `json:"verified"`
}

// ExportSession is one session, as the owner may see it: where and when, never its token.
type ExportSession struct {
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

// ExportDeletion is a pending deletion.
type ExportDeletion struct {
	RequestedAt time.Time `json:"requested_at"`
	DueAt       time.Time `json:"due_at"`
}

// ExportEvent is one entry of the account's audit trail.
type ExportEvent struct {
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// exportStore is what the export and the deletion read outside any transaction (part of
// Store): a signed-in page or call asks for the pending deletion every time, and a read must
// not take SQLite's write lock.
type exportStore interface {
	// SessionsOf returns the account's sessions, oldest first, without their token hashes.
	SessionsOf(ctx context.Context, accountID int64) ([]ExportSession, error)
	// DeletionOf returns the account's deletion (pending or done), or kilt.ErrNotFound.
	DeletionOf(ctx context.Context, accountID int64) (*Deletion, error)
}

// maxExportEvents bounds the audit trail of one export: far more than an account gathers
// in years, and a bound on what one request may read.
const maxExportEvents = 100000

// Export gathers the account's data for its owner.
func (s *Service) Export(ctx context.Context, accountID int64) (*Export, error) {
	a, err := s.store.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := &Export{ExportedAt: s.clock(), Channels: []ExportChannel{}, Audit: []ExportEvent{},
		Account: ExportAccount{ID: a.ID, Lang: a.Lang, Locked: a.Locked, CreatedAt: a.CreatedAt,
			UpdatedAt: a.UpdatedAt, PasswordChangedAt: a.PasswordChangedAt}}
	if a.Email != "" {
		out.Channels = append(out.Channels, ExportChannel{Kind: Email.String(), Value: a.Email, Verified: a.EmailVerified})
	}
	if a.Phone != "" {
		out.Channels = append(out.Channels, ExportChannel{Kind: Phone.String(), Value: a.Phone, Verified: a.PhoneVerified})
	}
	if out.Sessions, err = s.store.SessionsOf(ctx, accountID); err != nil {
		return nil, err
	}
	if out.Sessions == nil {
		out.Sessions = []ExportSession{}
	}
	d, err := s.DeletionOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if d != nil {
		out.Deletion = &ExportDeletion{RequestedAt: d.RequestedAt, DueAt: d.DueAt}
	}
	events, err := s.audit.Recent(ctx, accountID, maxExportEvents)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		out.Audit = append(out.Audit, ExportEvent{At: e.At, Type: e.Type, IP: e.IP, UserAgent: e.UserAgent, Detail: e.Detail})
	}
	return out, nil
}
