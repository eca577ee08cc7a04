package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"kilt"
	"kilt/internal/audit"
	"kilt/internal/i18n"
)

// recentEvents is how many events of the audit trail the account page shows.
const recentEvents = 20

// accountPage builds the account page of the signed-in viewer.
func (s *Site) accountPage(w http.ResponseWriter, r *http.Request) error {
	p, err := s.newAccountPage(w, r)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "account", p)
}

func (s *Site) newAccountPage(w http.ResponseWriter, r *http.Request) (*AccountPage, error) {
	v, err := signedIn(r)
	if err != nil {
		return nil, err
	}
	events, err := s.accounts.Recent(r.Context(), v.account.ID, recentEvents)
	if err != nil {
		return nil, err
	}
	p := &AccountPage{Base: s.base(w, r, "title_account"), Account: *newAccountView(v.account)}
	for _, e := range events {
		p.Events = append(p.Events, s.eventView(p.Lang, e))
	}
	if p.Apps, err = s.connectedApps(r.Context(), v.account.ID); err != nil {
		return nil, err
	}
	if s.channels != nil {
		if ch, err := s.channels.Current(r.Context(), v.account.ID); err == nil {
			p.Pending = ch.ID
		} else if !errors.Is(err, kilt.ErrNotFound) {
			return nil, err
		}
	}
	if err := s.fillLifecycle(r, p); err != nil {
		return nil, err
	}
	return p, nil
}

// changePassword serves POST /account/password: current password, new and repeat. Every
// other session of the account ends; this one stays.
func (s *Site) changePassword(w http.ResponseWriter, r *http.Request) error {
	v, err := signedIn(r)
	if err != nil {
		return err
	}
	err = s.accounts.ChangePassword(r.Context(), v.account.ID, v.session.ID, r.PostForm.Get("current_password"),
		r.PostForm.Get("password"), r.PostForm.Get("password_confirm"), s.accountClient(r))
	if err != nil {
		p, perr := s.newAccountPage(w, r)
		if perr != nil {
			return perr
		}
		return s.fail(w, "account", p, err, map[string]string{"password_required": "current_password"})
	}
	s.setFlash(w, flashPasswordChanged)
	return redirect(w, r, "/account")
}

// eventTypes are the audit events the account page names; others read as "other".
var eventTypes = map[string]bool{
	audit.RegistrationRequested: true, audit.RegistrationCompleted: true, audit.LoginSucceeded: true,
	audit.LoginFailed: true, audit.RecoveryRequested: true, audit.RecoveryLimited: true, audit.CodeFailed: true,
	audit.SMSPaused: true, audit.PasswordChanged: true, audit.PasswordReset: true, audit.SessionRevoked: true,
	audit.SessionsRevokedAll: true, audit.AccountLocked: true, audit.AccountUnlocked: true,
	audit.ChannelChangeRequested: true, audit.ChannelAdded: true, audit.ChannelReplaced: true, audit.ChannelRemoved: true,
	audit.AccountFrozen: true, audit.AccountUnfrozen: true, audit.ReauthFailed: true,
}

// failedEvents are the events that may mean someone else is trying.
var failedEvents = map[string]bool{audit.LoginFailed: true, audit.CodeFailed: true, audit.SMSPaused: true, audit.RecoveryLimited: true,
	audit.ReauthFailed: true}

// eventView is an audit event as the account page shows it: its type by name in the page's
// language, the time as people there write it (in the configured zone, the citizen's: no
// "UTC+05:00" to decode), the IP and the browser. The event's detail is a note for
// operators, not shown. A registration asked for with the account's own e-mail or number
// can only be someone else's attempt (the account exists already): it says so, and stands
// out like a failed sign-in.
func (s *Site) eventView(lang string, e audit.Event) EventView {
	key := "event_other"
	if eventTypes[e.Type] {
		key = "event_" + e.Type
	}
	failed := failedEvents[e.Type]
	if e.Type == audit.RegistrationRequested {
		key, failed = "event_registration_attempt", true
	}
	at := e.At.In(s.cfg.Location)
	return EventView{What: i18n.T(lang, key), When: localTime(lang, at),
		Datetime: at.Format(time.RFC3339), IP: e.IP, Browser: browserName(e.UserAgent), Failed: failed}
}

// localTime is t as people write it in lang: «5 желтоқсан 2026, 14:03», «5 декабря 2026,
// 14:03», "5 December 2026, 14:03".
func localTime(lang string, t time.Time) string {
	return i18n.T(lang, "date_format", "day", t.Day(), "month", i18n.T(lang, fmt.Sprintf("month_%d", int(t.Month()))),
		"year", t.Year(), "time", t.Format("15:04"))
}

// browserName sums a user agent up as "browser · system" for people to recognise their own
// devices; an agent it does not know is shown shortened.
func browserName(ua string) string {
	find := func(pairs [][2]string) string {
		for _, p := range pairs {
			if strings.Contains(ua, p[0]) {
				return p[1]
			}
		}
		return ""
	}
	// Order matters: most browsers also claim to be the ones they descend from.
	browser := find([][2]string{{"YaBrowser/", "Yandex Browser"}, {"Edg/", "Edge"}, {"OPR/", "Opera"},
		{"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}})
	system := find([][2]string{{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"}})
	switch {
	case browser != "" && system != "":
		return browser + " · " + system
	case browser != "":
		return browser
	}
	const maxLen = 40
	if utf8.RuneCountInString(ua) > maxLen {
		return string([]rune(ua)[:maxLen]) + "…"
	}
	return ua
}
