package config

import (
	"strings"
	"testing"
)

// TestAdminListen: the console is off by default, on 127.0.0.1:8081 under --dev, on
// loopback only under --dev, and never on the citizens' listener.
func TestAdminListen(t *testing.T) {
	c, err := load(t, []string{"--base-url", "https://id.example.kz", "--smtp-url", "smtp://mail:25", "--sms-provider", "webhook",
		"--sms-webhook-url", "https://sms.example.kz"}, nil, Options{Serve: true})
	if err != nil || c.AdminListen != "" {
		t.Errorf("default: %q, %v; want off", c.AdminListen, err)
	}
	c, err = load(t, []string{"--dev"}, nil, Options{Serve: true})
	if err != nil || c.AdminListen != "127.0.0.1:8081" {
		t.Errorf("--dev: %q, %v; want 127.0.0.1:8081", c.AdminListen, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--dev", "--admin-listen", "0.0.0.0:8081"}, "KILT_ADMIN_LISTEN"},
		{[]string{"--dev", "--listen", "127.0.0.1:9000", "--admin-listen", "127.0.0.1:9000"}, "must differ"},
	} {
		if _, err := load(t, tt.args, nil, Options{Serve: true}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error naming %q", tt.args, err, tt.want)
		}
	}
}
