package web

import (
	"net/http"
	"time"

	"kilt/internal/i18n"
)

// flash names a one-time notice. Only these names are ever shown: the cookie holds a name,
// the page shows the catalog text of its key, so no text from a cookie or a URL reaches a
// page.
type flash string

// The notices carried over a redirect.
const (
	flashRegistered          flash = "registered"
	flashPasswordReset       flash = "password_reset"
	flashPasswordChanged     flash = "password_changed"
	flashSignedOut           flash = "signed_out"
	flashSignedOutEverywhere flash = "signed_out_everywhere"
	flashChannelChanged      flash = "channel_changed"
	flashChannelRemoved      flash = "channel_removed"
)

var flashes = map[flash]struct{ kind, key string }{
	flashRegistered:          {"success", "flash_registered"},
	flashPasswordReset:       {"success", "flash_password_reset"},
	flashPasswordChanged:     {"success", "flash_password_changed"},
	flashSignedOut:           {"info", "flash_signed_out"},
	flashSignedOutEverywhere: {"info", "flash_signed_out_everywhere"},
	flashChannelChanged:      {"success", "flash_channel_changed"},
	flashChannelRemoved:      {"success", "flash_channel_removed"},
}

// flashLifetime is long enough for the redirect that follows, short enough that a notice
// never turns up on a page opened much later.
const flashLifetime = time.Minute

// Cookie names. On https the flash cookie is __Host- (host-only, Path=/, Secure) and the
// token cookies __Secure- (they are scoped to one path, which __Host- does not allow).
func (s *Site) flashCookie() string   { return s.prefixed("__Host-", "kilt_flash") }
func (s *Site) resetCookie() string   { return s.prefixed("__Secure-", "kilt_reset") }
func (s *Site) confirmCookie() string { return s.prefixed("__Secure-", "kilt_confirm") }
func (s *Site) sentCookie() string    { return s.prefixed("__Secure-", "kilt_sent") }

func (s *Site) prefixed(prefix, name string) string {
	if s.cfg.SecureCookie {
		return prefix + name
	}
	return name
}

// setFlash makes the next page show the notice f.
func (s *Site) setFlash(w http.ResponseWriter, f flash) {
	http.SetCookie(w, &http.Cookie{Name: s.flashCookie(), Value: string(f), Path: "/", MaxAge: int(flashLifetime / time.Second),
		HttpOnly: true, Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

// takeFlash returns the notice the flash cookie names, and clears the cookie; nil for none
// or an unknown name.
func (s *Site) takeFlash(w http.ResponseWriter, r *http.Request, lang string) *Notice {
	c, err := r.Cookie(s.flashCookie())
	if err != nil {
		return nil
	}
	s.clearCookie(w, s.flashCookie(), "/")
	f, ok := flashes[flash(c.Value)]
	if !ok {
		return nil
	}
	return &Notice{Kind: f.kind, Text: i18n.T(lang, f.key)}
}

// setSession sets the session cookie exactly as the API does: host-only, whole site, not
// readable by scripts, not sent on cross-site subrequests; a browser-session cookie, so
// closing the browser on a shared computer signs out.
func (s *Site) setSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: s.cfg.CookieName, Value: token, Path: "/", HttpOnly: true,
		Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

// setToken puts a secret link's token in the cookie name, sent back only to path, for at
// most lifetime: it carries the token across the one redirect that takes it out of the
// address bar.
func (s *Site) setToken(w http.ResponseWriter, name, path, token string, lifetime time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: path, MaxAge: int(lifetime / time.Second),
		HttpOnly: true, Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

// takeToken returns the token in the cookie name (scoped to path) and clears the cookie: once
// the token is in the page's form it has no business staying in the browser.
func (s *Site) takeToken(w http.ResponseWriter, r *http.Request, name, path string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	s.clearCookie(w, name, path)
	return c.Value
}

func (s *Site) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}
