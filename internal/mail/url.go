package mail

import (
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// ParseURL builds a Config from KILT_SMTP_URL and KILT_MAIL_FROM:
//
//	smtp://user:pass@host:587                 STARTTLS, required (default port 587)
//	smtps://user:pass@host:465                TLS from the first byte (default port 465)
//	smtp://host:25?starttls=false             clear text: a relay on this machine or a
//	                                          trusted private network only
//
// The user name and password are URL-decoded (a '@', ':', '/', '?' or '#' in them must be
// percent-encoded). Timeout, Conns and the TLS settings keep their defaults. Errors say
// what is wrong and never contain the password, nor any other part of the URL but its
// scheme: a password that was not percent-encoded can end up in any of them.
func ParseURL(smtpURL, from string) (Config, error) {
	u, err := url.Parse(smtpURL)
	if err != nil {
		// url.Parse's own error quotes the whole URL, password included.
		return Config{}, configError("SMTP URL cannot be parsed: want smtp://user:pass@host:587 or smtps://user:pass@host:465, " +
			"with the port a number and special characters in the user name and password percent-encoded")
	}
	var cfg Config
	switch u.Scheme {
	case "smtp":
		cfg.TLS = STARTTLS
	case "smtps":
		cfg.TLS = Implicit
	case "":
		return Config{}, configError("SMTP URL has no scheme: want smtp:// or smtps://")
	default:
		return Config{}, configError("SMTP URL scheme %q is not smtp or smtps", u.Scheme)
	}
	switch {
	case u.Opaque != "":
		return Config{}, configError("SMTP URL must look like %s://host:port", u.Scheme)
	case u.Hostname() == "":
		return Config{}, configError("SMTP URL has no host")
	case u.Path != "" && u.Path != "/", u.Fragment != "", u.RawFragment != "":
		return Config{}, configError("SMTP URL has a path or fragment after the host: " +
			"a '/', '?', '#' or '@' in the password must be percent-encoded")
	}
	cfg.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, configError("SMTP URL port is not a number from 1 to 65535")
		}
		cfg.Port = n
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		pass, ok := u.User.Password()
		switch {
		case cfg.Username == "":
			return Config{}, configError("SMTP URL has a password but no user name")
		case !ok || pass == "":
			return Config{}, configError("SMTP URL has a user name but no password (smtp://user:pass@host)")
		}
		cfg.Password = pass
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, configError("SMTP URL query cannot be parsed")
	}
	for key, values := range query {
		if key != "starttls" {
			// Not quoted: with a '?' in an unencoded password, the key is part of it.
			return Config{}, configError("SMTP URL has an unknown parameter: only starttls=false is allowed " +
				"(a '?' in the password must be percent-encoded)")
		}
		if len(values) != 1 {
			return Config{}, configError("SMTP URL parameter starttls is given %d times", len(values))
		}
		on, err := strconv.ParseBool(values[0])
		switch {
		case err != nil:
			return Config{}, configError("SMTP URL parameter starttls is not true or false")
		case cfg.TLS == Implicit:
			return Config{}, configError("SMTP URL parameter starttls applies to smtp:// only (smtps:// is always TLS)")
		case !on:
			cfg.TLS = None
		}
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == Implicit {
			cfg.Port = 465
		}
	}
	if strings.TrimSpace(from) == "" {
		return Config{}, configError("mail From is empty: set KILT_MAIL_FROM, e.g. Kilt <no-reply@example.kz>")
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return Config{}, configError("mail From %q is not a valid address (want e.g. Kilt <no-reply@example.kz>)", from)
	}
	cfg.From = from
	check := cfg // checkConfig fills in defaults; the Config returned leaves them to New
	if err := checkConfig(&check); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
