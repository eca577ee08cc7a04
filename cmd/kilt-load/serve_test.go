package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"testing"
	"time"

	"kilt/internal/config"
	"kilt/internal/kilttest"
	"kilt/internal/server"
)

// startKilt runs a whole Kilt in this process the way `kilt serve` runs it — server.Open,
// then App.Serve on a loopback listener, which also runs the outbox dispatcher and the
// recovery processor — on a fresh SQLite database, with env on top of test defaults (cheap
// Argon2id, no drain delay). It returns the server's URL and its whole environment, which
// is also the environment to give the tool. It stops when the test ends.
//
// Not kilttest.Start: that one sends to its own SMTP server and SMS gateway and leaves the
// background loops to the test, while the scenarios need the messages at the tool's sinks
// and delivered as a running server delivers them. Not a `kilt serve` subprocess either: in
// this process the run's --pid is the test's own, and no binary has to be built first.
func startKilt(t *testing.T, env map[string]string) (url string, vars map[string]string) {
	t.Helper()
	vars = map[string]string{
		"KILT_BASE_URL":         "http://kilt.test",
		"KILT_DATABASE_URL":     "sqlite:" + filepath.Join(t.TempDir(), "kilt.db"),
		"KILT_ARGON2_MEMORY":    "8192",
		"KILT_ARGON2_TIME":      "1",
		"KILT_LOG_FORMAT":       "json",
		"KILT_DRAIN_DELAY":      "0s",
		"KILT_SHUTDOWN_TIMEOUT": "5s",
	}
	maps.Copy(vars, env)
	fs := flag.NewFlagSet("kilt", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := config.Load(fs, nil, func(k string) string { return vars[k] }, config.Options{Serve: true})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(&kilttest.Log{}, nil))
	app, err := server.Open(context.Background(), cfg, log, nil, io.Discard)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		app.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the server did not stop within 10 s")
		}
		app.Close()
	})
	return "http://" + ln.Addr().String(), vars
}

// freeAddr returns a loopback address with a port free a moment ago, for a sink the server
// must be configured with before the tool starts it. Another process could take the port
// in between; on a test machine it does not.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// sinkEnv points a Kilt at sinks on the two addresses.
func sinkEnv(mail, sms string) map[string]string {
	return map[string]string{
		"KILT_SMTP_URL":        smtpURL(mail),
		"KILT_SMS_PROVIDER":    "webhook",
		"KILT_SMS_WEBHOOK_URL": smsURL(sms),
	}
}
