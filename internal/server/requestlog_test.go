package server

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// A request's logger formats its id only for a record that is logged: at the production
// level (warn) a request that logs nothing pays no formatting (With paid 7 allocations).
func TestRequestLoggerFormatsNothingUntilLogged(t *testing.T) {
	base := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n := testing.AllocsPerRun(200, func() {
		log := requestLogger(base, "0123456789abcdef")
		log.Info("request")
	})
	if n > 2 {
		t.Errorf("a request's logger: %v allocations, want at most 2 (the handler and the logger)", n)
	}
}

// What is logged is what With logged: the id first, then the record's own attributes, also
// through a further With and a group.
func TestRequestLoggerLogsAsWith(t *testing.T) {
	for _, use := range []func(*slog.Logger){
		func(l *slog.Logger) { l.Warn("request", "status", 500) },
		func(l *slog.Logger) { l.With("user", 7).Warn("request", "status", 500) },
		func(l *slog.Logger) { l.WithGroup("g").Warn("request", "status", 500) },
	} {
		var got, want bytes.Buffer
		use(requestLogger(slog.New(slog.NewJSONHandler(&got, nil)), "abc"))
		use(slog.New(slog.NewJSONHandler(&want, nil)).With("request_id", "abc"))
		// The time differs from one record to the other.
		g, w := got.String()[strings.Index(got.String(), `"level"`):], want.String()[strings.Index(want.String(), `"level"`):]
		if g != w {
			t.Errorf("logged %s, With logs %s", g, w)
		}
	}
}
