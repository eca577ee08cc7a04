package server

import (
	"context"
	"log/slog"

	"kilt/internal/httpx"
)

// DefaultLogger returns the logger that the serving process makes slog's default
// (slog.SetDefault): the single sign-on library (zitadel/oidc's op) has no logger of its
// own and logs through slog's default with the request's context, so its lines take the
// process's format and level, and the request id of the request they belong to. What it
// logs is its errors' type, description and state and an authorization request's client,
// scopes and redirect URI — never a code, token or secret (TestLibraryLogsNoSecret in
// internal/oidcop).
func DefaultLogger(log *slog.Logger) *slog.Logger {
	return slog.New(requestIDHandler{log.Handler()})
}

// requestIDHandler adds the request id of the context's request to every record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := httpx.InfoFrom(ctx).RequestID; id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
