package mail_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kilt"
	"kilt/internal/mail"
)

func TestParseURL(t *testing.T) {
	const from = "Kilt <no-reply@example.kz>"
	tests := []struct {
		name string
		url  string
		want mail.Config
	}{
		{name: "STARTTLS with credentials", url: "smtp://kilt:s3cr3t@smtp.example.kz:587",
			want: mail.Config{Host: "smtp.example.kz", Port: 587, Username: "kilt", Password: "s3cr3t", TLS: mail.STARTTLS, From: from}},
		{name: "default STARTTLS port", url: "smtp://kilt:s3cr3t@smtp.example.kz",
			want: mail.Config{Host: "smtp.example.kz", Port: 587, Username: "kilt", Password: "s3cr3t", TLS: mail.STARTTLS, From: from}},
		{name: "implicit TLS, default port", url: "smtps://kilt:s3cr3t@smtp.example.kz",
			want: mail.Config{Host: "smtp.example.kz", Port: 465, Username: "kilt", Password: "s3cr3t", TLS: mail.Implicit, From: from}},
		{name: "implicit TLS, own port", url: "smtps://kilt:s3cr3t@smtp.example.kz:2465",
			want: mail.Config{Host: "smtp.example.kz", Port: 2465, Username: "kilt", Password: "s3cr3t", TLS: mail.Implicit, From: from}},
		{name: "percent-encoded credentials", url: "smtp://no-reply%40example.kz:p%40ss%3Aw%2Frd%3F%23@smtp.example.kz:587",
			want: mail.Config{Host: "smtp.example.kz", Port: 587, Username: "no-reply@example.kz", Password: "p@ss:w/rd?#", TLS: mail.STARTTLS, From: from}},
		{name: "local relay without TLS", url: "smtp://localhost:25?starttls=false",
			want: mail.Config{Host: "localhost", Port: 25, TLS: mail.None, From: from}},
		{name: "IPv6 relay", url: "smtp://[::1]:25?starttls=false",
			want: mail.Config{Host: "::1", Port: 25, TLS: mail.None, From: from}},
		{name: "starttls=true is the default", url: "smtp://mail.internal?starttls=true",
			want: mail.Config{Host: "mail.internal", Port: 587, TLS: mail.STARTTLS, From: from}},
		{name: "upper-case scheme and trailing slash", url: "SMTP://mail.internal:587/",
			want: mail.Config{Host: "mail.internal", Port: 587, TLS: mail.STARTTLS, From: from}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mail.ParseURL(tt.url, from)
			if err != nil {
				t.Fatalf("ParseURL(%q) = %v", tt.url, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseURL(%q) mismatch (-want +got):\n%s", tt.url, diff)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	const secret = "Sup3r-S3cret"
	const from = "Kilt <no-reply@example.kz>"
	tests := []struct {
		name, url, from, want string
	}{
		{name: "empty", url: "", want: "no scheme"},
		{name: "http scheme", url: "http://kilt:" + secret + "@smtp.example.kz", want: `scheme "http"`},
		{name: "no host", url: "smtp://kilt:" + secret + "@", want: "no host"},
		{name: "opaque", url: "smtp:smtp.example.kz", want: "smtp://host:port"},
		{name: "port out of range", url: "smtp://kilt:" + secret + "@smtp.example.kz:99999", want: "port"},
		{name: "port zero", url: "smtp://kilt:" + secret + "@smtp.example.kz:0", want: "port"},
		{name: "port not a number", url: "smtp://kilt:" + secret + "@smtp.example.kz:abc", want: "cannot be parsed"},
		{name: "starttls=false with smtps", url: "smtps://kilt:" + secret + "@smtp.example.kz?starttls=false", want: "smtp:// only"},
		{name: "starttls not a boolean", url: "smtp://kilt:" + secret + "@smtp.example.kz?starttls=maybe", want: "true or false"},
		{name: "starttls twice", url: "smtp://smtp.example.kz?starttls=false&starttls=true", want: "2 times"},
		{name: "unknown parameter", url: "smtp://kilt:" + secret + "@smtp.example.kz?tls=off", want: "unknown parameter"},
		{name: "path", url: "smtp://kilt:" + secret + "@smtp.example.kz/mail", want: "path"},
		{name: "password without user", url: "smtp://:" + secret + "@smtp.example.kz", want: "no user name"},
		{name: "user without password", url: "smtp://kilt@smtp.example.kz", want: "no password"},
		{name: "unencoded slash in password", url: "smtp://kilt:Sup3r/S3cret@smtp.example.kz", want: "cannot be parsed"},
		{name: "unencoded question mark in user", url: "smtp://ki?lt:" + secret + "@smtp.example.kz", want: "unknown parameter"},
		{name: "unencoded hash in password", url: "smtp://kilt:Sup3r#S3cret@smtp.example.kz", want: "cannot be parsed"},
		{name: "bad From", url: "smtp://kilt:" + secret + "@smtp.example.kz", from: "Kilt no-reply", want: "not a valid address"},
		{name: "empty From", url: "smtp://kilt:" + secret + "@smtp.example.kz", from: " ", want: "KILT_MAIL_FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.from
			if f == "" {
				f = from
			}
			_, err := mail.ParseURL(tt.url, f)
			if err == nil {
				t.Fatalf("ParseURL(%q) succeeded, want an error", tt.url)
			}
			if got := kilt.ErrorCode(err); got != mail.CodeConfig {
				t.Errorf("code %q, want %q", got, mail.CodeConfig)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			for _, part := range []string{secret, "Sup3r", "S3cret"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("error %q contains the password (%q)", err, part)
				}
			}
		})
	}
}
