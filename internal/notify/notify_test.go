package notify

import (
	"flag"
	"fmt"
	stdhtml "html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"kilt"
	"kilt/internal/outbox"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	testLink        = "https://id.example.kz/recovery/confirm/q3Zk8w0B-rT5yXn_2LmPa9dVc4HsJe7KuGf1oQbNiWx"
	testRegLink     = "https://id.example.kz/register/confirm/Yt6Rb2Kq_Wz9pLx4Nm0Vd8Hs3Fj7Ca1Ge5Ui-OkTnBw"
	testCode        = "123456"
	testRecoveryURL = "https://id.example.kz/recovery"
	testTime        = "2026-11-25T09:05:00Z" // 14:05 in Almaty
	// testFreezeURL has a token of the real length (32 bytes, base64url).
	testFreezeURL = "https://id.example.kz/freeze?token=q0Jb3mZ9xYt7Wc2LrP5sVn8Kd4Hf6Ga1Ue0Oi3Tj9Mw"
)

// almaty is a fixed UTC+5 zone, so that the golden files do not depend on the host's tzdata.
var almaty = time.FixedZone("Asia/Almaty", 5*60*60)

func newTestRenderer(t *testing.T) *Renderer {
	t.Helper()
	return New(Config{Location: almaty})
}

// fixture returns realistic data for kc: exactly the keys it declares.
func fixture(kc KindChannel) map[string]string {
	switch kc.Kind {
	case outbox.RegistrationLink:
		return map[string]string{"link": testRegLink, "minutes": "30"}
	case outbox.RecoveryLink:
		return map[string]string{"link": testLink, "minutes": "30"}
	case outbox.RegistrationCode, outbox.RecoveryCode:
		return map[string]string{"code": testCode, "minutes": "5"}
	case outbox.ChannelLink:
		return map[string]string{"link": testRegLink, "minutes": "30"}
	case outbox.ChannelCode:
		return map[string]string{"code": testCode, "minutes": "10"}
	case outbox.PasswordChanged, outbox.ChannelChanged:
		return map[string]string{"time": testTime, "freeze_url": testFreezeURL}
	case outbox.ChannelUpdated:
		return map[string]string{"time": testTime, "change": outbox.ChangeEmailReplaced, "freeze_url": testFreezeURL}
	case outbox.ChannelTaken:
		return map[string]string{"time": testTime}
	case outbox.AccountFrozen:
		return map[string]string{"time": testTime, "recovery_url": testRecoveryURL}
	case outbox.DeletionScheduled:
		return map[string]string{"time": testTime, "link": "https://kilt.example.kz/deletion/cancel?token=Jk3aQ0pV7mXb2LrT9yWc5nHs8dFg1uZe4oIq6AtBvEw",
			"freeze_url": testFreezeURL}
	default:
		return map[string]string{"recovery_url": testRecoveryURL}
	}
}

func render(t *testing.T, r *Renderer, kc KindChannel, lang string, data map[string]string) outbox.Rendered {
	t.Helper()
	m, err := r.Render(kc.Kind, kc.Channel, lang, data)
	if err != nil {
		t.Fatalf("Render(%s, %s): %v", kc, lang, err)
	}
	return m
}

// parts returns the rendered parts of m by golden file suffix: <kind>.email.subject,
// .email.txt and .email.html, or <kind>.sms.txt.
func parts(m outbox.Rendered) map[string]string {
	if m.Channel == outbox.SMS {
		return map[string]string{"txt": m.Text}
	}
	return map[string]string{"subject": m.Subject, "txt": m.Text, "html": m.HTML}
}

func TestGolden(t *testing.T) {
	r := newTestRenderer(t)
	for _, lang := range langs {
		for _, kc := range r.Kinds() {
			t.Run(lang+"/"+kc.String(), func(t *testing.T) {
				m := render(t, r, kc, lang, fixture(kc))
				if m.Lang != lang || m.Channel != kc.Channel {
					t.Errorf("got lang %q channel %q, want %q %q", m.Lang, m.Channel, lang, kc.Channel)
				}
				for suffix, got := range parts(m) {
					path := filepath.Join("testdata", "golden", lang, kc.String()+"."+suffix)
					if *update {
						if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run go test ./internal/notify -update)", err)
					}
					if got != string(want) {
						t.Errorf("%s differs from the golden file (-want +got):\n%s", path, cmp.Diff(string(want), got))
					}
				}
			})
		}
	}
}

// TestTemplateFiles checks that every message has all its templates in every language and
// that no template lies around unused (a misspelt name would otherwise go unnoticed).
func TestTemplateFiles(t *testing.T) {
	want := map[string]bool{"templates/layout.html.tmpl": true, "templates/layout.txt.tmpl": true}
	for _, lang := range langs {
		want["templates/"+lang+"/common.html.tmpl"] = true
		want["templates/"+lang+"/common.txt.tmpl"] = true
		for _, m := range catalog {
			kc := m.KindChannel
			exts := []string{".sms.tmpl"}
			if kc.Channel == outbox.Email {
				exts = []string{".subject.tmpl", ".txt.tmpl", ".html.tmpl"}
			}
			for _, ext := range exts {
				want["templates/"+lang+"/"+string(kc.Kind)+ext] = true
			}
		}
	}
	got := map[string]bool{}
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got[path] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for path := range want {
		if !got[path] {
			t.Errorf("template %s missing", path)
		}
	}
	for path := range got {
		if !want[path] {
			t.Errorf("template %s is not used by any message", path)
		}
	}
}

// TestKindsCoverOutbox checks that every kind the outbox knows has at least one channel.
func TestKindsCoverOutbox(t *testing.T) {
	have := map[outbox.Kind]bool{}
	for _, kc := range New(Config{}).Kinds() {
		have[kc.Kind] = true
	}
	for _, k := range []outbox.Kind{outbox.RegistrationLink, outbox.RegistrationCode, outbox.AlreadyRegistered,
		outbox.RecoveryLink, outbox.RecoveryCode, outbox.PasswordChanged, outbox.ChannelChanged,
		outbox.ChannelUpdated, outbox.ChannelLink, outbox.ChannelCode, outbox.ChannelTaken, outbox.AccountFrozen,
		outbox.DeletionScheduled} {
		if !have[k] {
			t.Errorf("kind %s has no template", k)
		}
	}
	if got, want := len(New(Config{}).Kinds()), 20; got != want {
		t.Errorf("got %d kind/channel pairs, want %d", got, want)
	}
}

func TestSMSFitsSegments(t *testing.T) {
	r := newTestRenderer(t)
	// The most segments each SMS may take in Kazakh and Russian; English always fits one.
	// See the package doc for why the messages with a URL take two.
	maxUCS2 := map[outbox.Kind]int{
		outbox.RegistrationCode:  1,
		outbox.RecoveryCode:      1,
		outbox.AlreadyRegistered: 2,
		// A security notice carries its freeze link, a 32-byte token: three segments.
		outbox.PasswordChanged: 3,
		outbox.ChannelChanged:  3,
		outbox.ChannelUpdated:  3,
		outbox.ChannelCode:     1,
		outbox.ChannelTaken:    2,
		outbox.AccountFrozen:   2,
		// The cancel link and the freeze link, two 43-character tokens: a fourth segment in
		// Cyrillic, for a message sent once in an account's life.
		outbox.DeletionScheduled: 4,
	}
	for _, lang := range langs {
		for _, kc := range r.Kinds() {
			if kc.Channel != outbox.SMS {
				continue
			}
			// Lifetimes of one and two digits; the default recovery URL and a longer one.
			for _, v := range []struct{ minutes, url string }{
				{"5", testRecoveryURL}, {"15", testRecoveryURL}, {"5", "https://portal.example.kz/account/recovery"},
			} {
				t.Run(fmt.Sprintf("%s/%s/%smin/url%d", lang, kc, v.minutes, len(v.url)), func(t *testing.T) {
					data := fixture(kc)
					if _, ok := data["minutes"]; ok {
						data["minutes"] = v.minutes
					}
					if _, ok := data["recovery_url"]; ok {
						data["recovery_url"] = v.url
					}
					m := render(t, r, kc, lang, data)
					want := maxUCS2[kc.Kind]
					if lang == "en" {
						// Two links (the deletion notice's cancel and freeze links) cannot
						// fit 160 characters.
						want = min(want, 2)
						if strings.Count(m.Text, "https://") < 2 {
							want = 1
						}
						if !IsGSM7(m.Text) {
							t.Errorf("English SMS %q is not GSM-7, so it would be limited to 70 characters", m.Text)
						}
					}
					if got := Segments(m.Text); got > want || want == 0 {
						t.Errorf("SMS %q (%d characters) takes %d segments, want at most %d", m.Text, len([]rune(m.Text)), got, want)
					}
				})
			}
		}
	}
}

func TestCodeSMSHeadroom(t *testing.T) {
	// A product name of up to six characters with a two-digit lifetime still fits one
	// segment, as the package doc promises.
	r := New(Config{ProductName: "eGovKZ", Location: almaty})
	for _, lang := range langs {
		for _, kind := range []outbox.Kind{outbox.RegistrationCode, outbox.RecoveryCode} {
			m, err := r.Render(kind, outbox.SMS, lang, map[string]string{"code": testCode, "minutes": "15"})
			if err != nil {
				t.Fatal(err)
			}
			if got := Segments(m.Text); got != 1 {
				t.Errorf("%s %s: SMS %q takes %d segments, want 1", lang, kind, m.Text, got)
			}
		}
	}
}

func TestNoSecretInNotices(t *testing.T) {
	r := newTestRenderer(t)
	const link, code = "https://id.example.kz/r/LEAKEDTOKEN", "987654"
	for _, lang := range langs {
		for _, kc := range r.Kinds() {
			if kc.Kind != outbox.PasswordChanged && kc.Kind != outbox.AlreadyRegistered && kc.Kind != outbox.ChannelChanged &&
				kc.Kind != outbox.ChannelUpdated && kc.Kind != outbox.ChannelTaken && kc.Kind != outbox.AccountFrozen {
				continue
			}
			t.Run(lang+"/"+kc.String(), func(t *testing.T) {
				data := fixture(kc)
				data["link"], data["code"], data["password"] = link, code, "Hunter2!pass"
				m := render(t, r, kc, lang, data)
				for part, text := range parts(m) {
					for _, secret := range []string{"LEAKEDTOKEN", code, "Hunter2!pass"} {
						if strings.Contains(text, secret) {
							t.Errorf("%s contains %q:\n%s", part, secret, text)
						}
					}
				}
			})
		}
	}
}

func TestRenderRefusesBadInput(t *testing.T) {
	r := newTestRenderer(t)
	email := KindChannel{outbox.RecoveryLink, outbox.Email}
	sms := KindChannel{outbox.RecoveryCode, outbox.SMS}
	changed := KindChannel{outbox.PasswordChanged, outbox.Email}
	with := func(kc KindChannel, k, v string) map[string]string {
		d := fixture(kc)
		if v == "" {
			delete(d, k)
		} else {
			d[k] = v
		}
		return d
	}
	tests := []struct {
		name string
		kc   KindChannel
		data map[string]string
		// secret must not appear in the error.
		secret string
	}{
		{"code by e-mail", KindChannel{outbox.RecoveryCode, outbox.Email}, fixture(sms), ""},
		{"link by SMS", KindChannel{outbox.RecoveryLink, outbox.SMS}, fixture(email), ""},
		{"unknown kind", KindChannel{"welcome", outbox.Email}, fixture(email), ""},
		{"unknown channel", KindChannel{outbox.RecoveryLink, "fax"}, fixture(email), ""},
		{"link missing", email, with(email, "link", ""), ""},
		{"minutes missing", email, with(email, "minutes", ""), ""},
		{"code missing", sms, with(sms, "code", ""), ""},
		{"code blank", sms, with(sms, "code", "   "), ""},
		{"time missing", changed, with(changed, "time", ""), ""},
		{"freeze_url missing", changed, with(changed, "freeze_url", ""), ""},
		{"CR LF in link", email, with(email, "link", testLink+"\r\nBcc: x@example.com"), "Bcc"},
		{"LF in code", sms, with(sms, "code", "123\n456"), "123\n456"},
		{"CR in freeze_url", changed, with(changed, "freeze_url", testFreezeURL+"\r"), "token"},
		{"LF in an unused key", sms, with(sms, "extra", "a\nb"), ""},
		{"tab in code", sms, with(sms, "code", "123\t456"), ""},
		{"line separator in link", email, with(email, "link", testLink+"\u2028x"), ""},
		{"minutes zero", email, with(email, "minutes", "0"), ""},
		{"minutes negative", email, with(email, "minutes", "-5"), ""},
		{"minutes word", email, with(email, "minutes", "five"), ""},
		{"minutes padded", email, with(email, "minutes", "05"), ""},
		{"time not RFC 3339", changed, with(changed, "time", "25.11.2026 14:05"), ""},
		{"javascript link", email, with(email, "link", "javascript:alert(1)"), "alert"},
		{"relative link", email, with(email, "link", "/recovery/confirm/SECRETTOKEN"), "SECRETTOKEN"},
		{"ftp freeze_url", changed, with(changed, "freeze_url", "ftp://id.example.kz/freeze"), ""},
		{"unknown change", KindChannel{outbox.ChannelUpdated, outbox.Email}, with(KindChannel{outbox.ChannelUpdated, outbox.Email}, "change", "all_gone"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Render(tt.kc.Kind, tt.kc.Channel, "kk", tt.data)
			if err == nil {
				t.Fatalf("got no error and %+v, want an error", m)
			}
			if diff := cmp.Diff(outbox.Rendered{}, m); diff != "" {
				t.Errorf("got a half-filled message with the error (-want +got):\n%s", diff)
			}
			if got := kilt.ErrorKind(err); got != kilt.KindInternal {
				t.Errorf("got kind %v, want internal", got)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the data value", err)
			}
		})
	}
}

func TestHTMLEscapesData(t *testing.T) {
	r := newTestRenderer(t)
	const evil = "https://id.example.kz/recovery?x=<script>alert(1)</script>&y=\"'"
	for _, lang := range langs {
		for _, kind := range []outbox.Kind{outbox.AlreadyRegistered, outbox.PasswordChanged} {
			kc := KindChannel{kind, outbox.Email}
			t.Run(lang+"/"+kc.String(), func(t *testing.T) {
				data := fixture(kc)
				key := "recovery_url"
				if _, ok := data[key]; !ok {
					key = "freeze_url"
				}
				data[key] = evil
				m := render(t, r, kc, lang, data)
				if strings.Contains(m.HTML, "<script") || strings.Contains(m.HTML, `&y="'`) {
					t.Errorf("HTML contains the raw value:\n%s", m.HTML)
				}
				if !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
					t.Errorf("HTML does not show the escaped value as text:\n%s", m.HTML)
				}
				if !strings.Contains(m.Text, evil) {
					t.Errorf("plain text does not show the value as it is:\n%s", m.Text)
				}
			})
		}
	}
}

func TestProductNameEscaped(t *testing.T) {
	r := New(Config{ProductName: "A&B <Portal>", Location: almaty})
	m, err := r.Render(outbox.RecoveryLink, outbox.Email, "en", fixture(KindChannel{outbox.RecoveryLink, outbox.Email}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<Portal>") || !strings.Contains(m.HTML, "A&amp;B &lt;Portal&gt;") {
		t.Errorf("product name not escaped in HTML:\n%s", m.HTML)
	}
	if got, want := m.Subject, "A&B <Portal>: reset your password"; got != want {
		t.Errorf("got subject %q, want %q", got, want)
	}
}

var (
	tagRE  = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>`)
	voidEl = map[string]bool{"meta": true, "br": true, "img": true, "hr": true, "link": true, "input": true}
)

// checkBalanced reports the first misnested or unclosed tag of an HTML document.
func checkBalanced(t *testing.T, doc string) {
	t.Helper()
	var stack []string
	for _, m := range tagRE.FindAllStringSubmatch(doc, -1) {
		closing, name := m[1] == "/", strings.ToLower(m[2])
		switch {
		case voidEl[name]:
		case closing:
			if len(stack) == 0 || stack[len(stack)-1] != name {
				t.Fatalf("closing </%s> does not match the open tags %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		default:
			stack = append(stack, name)
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed tags %v", stack)
	}
}

func TestHTMLWellFormed(t *testing.T) {
	r := newTestRenderer(t)
	for _, lang := range langs {
		for _, kc := range r.Kinds() {
			if kc.Channel != outbox.Email {
				continue
			}
			t.Run(lang+"/"+kc.String(), func(t *testing.T) {
				data := fixture(kc)
				m := render(t, r, kc, lang, data)
				h := m.HTML
				if !strings.HasPrefix(h, "<!DOCTYPE html>\n<html lang=\""+lang+"\"") {
					t.Errorf("HTML does not start with the doctype and <html lang=%q>:\n%.200s", lang, h)
				}
				if !strings.HasSuffix(strings.TrimSpace(h), "</html>") || strings.Count(h, "<html") != 1 {
					t.Errorf("HTML is not one <html>…</html> document")
				}
				checkBalanced(t, h)
				if got, want := strings.Count(h, "<h1"), 1; got != want {
					t.Errorf("got %d <h1>, want %d", got, want)
				}
				for _, banned := range []string{"<style", "<img", "<script", "<link", "@import", "url("} {
					if strings.Contains(h, banned) {
						t.Errorf("HTML contains %q: inline styles only, nothing external", banned)
					}
				}
				url := data["link"]
				if url == "" {
					url = data["freeze_url"]
				}
				if url == "" {
					url = data["recovery_url"]
				}
				if url == "" {
					return // a notice that asks for nothing (channel_taken)
				}
				if !strings.Contains(h, `href="`+url+`"`) {
					t.Errorf("HTML has no link to %s", url)
				}
				if !strings.Contains(h, ">"+url+"</a>") {
					t.Errorf("HTML does not write out %s so that it can be copied", url)
				}
				if !strings.Contains(m.Text, "\n"+url+"\n") {
					t.Errorf("plain text does not have %s on a line of its own:\n%s", url, m.Text)
				}
				if strings.ContainsAny(m.Subject, "\r\n") || m.Subject == "" {
					t.Errorf("got subject %q, want one non-empty line", m.Subject)
				}
				if !strings.Contains(h, "<title>"+m.Subject+"</title>") {
					t.Errorf("HTML title is not the subject %q", m.Subject)
				}
				if len([]rune(m.Subject)) > 60 {
					t.Errorf("subject %q is longer than 60 characters", m.Subject)
				}
			})
		}
	}
}

func TestTextAndHTMLSayTheSame(t *testing.T) {
	// Every line of the plain text is in the HTML too, but for the lines that lead to a
	// link (phrased for a button in HTML) and the links themselves (checked elsewhere).
	r := newTestRenderer(t)
	tag := regexp.MustCompile(`<[^>]*>`)
	for _, lang := range langs {
		for _, kc := range r.Kinds() {
			if kc.Channel != outbox.Email {
				continue
			}
			m := render(t, r, kc, lang, fixture(kc))
			html := stdhtml.UnescapeString(tag.ReplaceAllString(m.HTML, ""))
			for _, line := range strings.Split(m.Text, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || line == "--" || strings.Contains(line, "://") || strings.HasSuffix(line, ":") {
					continue
				}
				if !strings.Contains(html, line) {
					t.Errorf("%s %s: %q is in the plain text but not in the HTML", lang, kc, line)
				}
			}
		}
	}
}

func TestLanguageFallback(t *testing.T) {
	r := newTestRenderer(t)
	kc := KindChannel{outbox.RecoveryCode, outbox.SMS}
	tests := []struct{ lang, want string }{
		{"kk", "kk"}, {"ru", "ru"}, {"en", "en"}, {"RU", "ru"}, {"ru-RU", "ru"}, {"en_GB", "en"},
		{"de", "kk"}, {"", "kk"}, {"kazakh", "kk"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			m := render(t, r, kc, tt.lang, fixture(kc))
			want := render(t, r, kc, tt.want, fixture(kc))
			if m.Lang != tt.want || m.Text != want.Text {
				t.Errorf("got lang %q text %q, want %q %q", m.Lang, m.Text, tt.want, want.Text)
			}
		})
	}
}

func TestPluralMinutes(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct{ lang, minutes, want string }{
		{"ru", "1", "действует 1 минуту "},
		{"ru", "3", "действует 3 минуты "},
		{"ru", "5", "действует 5 минут "},
		{"ru", "11", "действует 11 минут "},
		{"ru", "21", "действует 21 минуту "},
		{"ru", "30", "действует 30 минут "},
		{"en", "1", "valid for 1 minute "},
		{"en", "30", "valid for 30 minutes "},
		{"kk", "1", "1 минут бойы"},
		{"kk", "30", "30 минут бойы"},
		// Whole hours read as hours: a registration link's day is «24 сағат», not «1440 минут».
		{"kk", "1440", "24 сағат бойы"},
		{"ru", "1440", "действует 24 часа "},
		{"ru", "60", "действует 1 час "},
		{"ru", "300", "действует 5 часов "},
		{"en", "1440", "valid for 24 hours "},
		{"en", "90", "valid for 90 minutes "},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.minutes, func(t *testing.T) {
			m := render(t, r, KindChannel{outbox.RecoveryLink, outbox.Email}, tt.lang, map[string]string{"link": testLink, "minutes": tt.minutes})
			if !strings.Contains(m.Text, tt.want) || !strings.Contains(m.HTML, tt.want) {
				t.Errorf("got text %q, want it to contain %q in text and HTML", m.Text, tt.want)
			}
		})
	}
}

func TestTimeShownInLocation(t *testing.T) {
	tests := []struct {
		name string
		loc  *time.Location
		lang string
		want string
	}{
		{"kk Almaty", almaty, "kk", "Уақыты: 25.11.2026 14:05 (UTC+5)"},
		{"ru Almaty", almaty, "ru", "Время: 25.11.2026 14:05 (UTC+5)"},
		{"en Almaty", almaty, "en", "Time: 25 Nov 2026 14:05 (UTC+5)"},
		{"en UTC", time.UTC, "en", "Time: 25 Nov 2026 09:05 (UTC)"},
		{"en India", time.FixedZone("IST", 5*3600+1800), "en", "Time: 25 Nov 2026 14:35 (UTC+5:30)"},
		{"ru west", time.FixedZone("", -3*3600), "ru", "Время: 25.11.2026 06:05 (UTC-3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{Location: tt.loc})
			m := render(t, r, KindChannel{outbox.PasswordChanged, outbox.Email}, tt.lang, fixture(KindChannel{outbox.PasswordChanged, outbox.Email}))
			if !strings.Contains(m.Text, tt.want+"\n") {
				t.Errorf("got text\n%s\nwant it to contain %q", m.Text, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	r := New(Config{})
	if r.loc.String() != "Asia/Almaty" {
		t.Errorf("got location %q, want Asia/Almaty", r.loc)
	}
	// Kazakhstan has been on UTC+5 throughout since 1 March 2024 (tzdata 2024a).
	if _, off := time.Date(2026, 11, 25, 9, 5, 0, 0, time.UTC).In(r.loc).Zone(); off != 5*3600 {
		t.Errorf("got Almaty offset %ds in 2026, want UTC+5 (is the tzdata older than 2024a?)", off)
	}
	m := render(t, r, KindChannel{outbox.RecoveryCode, outbox.SMS}, "kk", fixture(KindChannel{outbox.RecoveryCode, outbox.SMS}))
	if !strings.HasPrefix(m.Text, "Kilt: ") {
		t.Errorf("got %q, want the default product name Kilt", m.Text)
	}
	m = render(t, New(Config{ProductName: "  eGov  "}), KindChannel{outbox.RecoveryCode, outbox.SMS}, "kk", fixture(KindChannel{outbox.RecoveryCode, outbox.SMS}))
	if !strings.HasPrefix(m.Text, "eGov: ") {
		t.Errorf("got %q, want the product name eGov", m.Text)
	}
}

// TestBrokenTemplatesFailAtStart checks that New's checks catch each way a template can be
// broken, before any message is rendered.
func TestBrokenTemplatesFailAtStart(t *testing.T) {
	good := fstest.MapFS{}
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		good[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := build(Config{}, good); err != nil {
		t.Fatalf("build with the embedded templates: %v", err)
	}
	tests := []struct {
		name, path, text string // text "" removes the file
	}{
		{"missing", "templates/ru/recovery_code.sms.tmpl", ""},
		{"missing layout", "templates/layout.html.tmpl", ""},
		{"syntax", "templates/en/recovery_link.txt.tmpl", "{{.Link"},
		{"unknown field", "templates/kk/password_changed.sms.tmpl", "{{.Password}}"},
		{"unknown field in HTML", "templates/en/recovery_link.html.tmpl", "<p>{{.Token}}</p>"},
		{"unknown template", "templates/ru/already_registered.html.tmpl", `{{template "nope" .}}`},
		{"bad plural", "templates/ru/recovery_link.txt.tmpl", `{{plural .Minutes "минуту"  "минут"}}`},
		{"ambiguous HTML context", "templates/kk/recovery_link.html.tmpl", `<a href="{{.Link}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for k, v := range good {
				fsys[k] = v
			}
			if tt.text == "" {
				delete(fsys, tt.path)
			} else {
				fsys[tt.path] = &fstest.MapFile{Data: []byte(tt.text)}
			}
			if _, err := build(Config{}, fsys); err == nil {
				t.Errorf("build accepted a broken %s", tt.path)
			}
		})
	}
}

func TestNewRefusesControlInProductName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a product name with a line break, want a panic")
		}
	}()
	New(Config{ProductName: "Kilt\r\nBcc: x@example.com"})
}

func TestRenderConcurrently(t *testing.T) {
	r := newTestRenderer(t)
	want := map[string]outbox.Rendered{}
	for _, lang := range langs {
		for _, kc := range r.Kinds() {
			want[lang+kc.String()] = render(t, r, kc, lang, fixture(kc))
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		for _, lang := range langs {
			for _, kc := range r.Kinds() {
				wg.Go(func() {
					m, err := r.Render(kc.Kind, kc.Channel, lang, fixture(kc))
					if err != nil || m != want[lang+kc.String()] {
						t.Errorf("%s %s: concurrent render differs (err %v)", lang, kc, err)
					}
				})
			}
		}
	}
	wg.Wait()
}

// TestPayloadsRender: the typed payload of each kind fills exactly the keys its templates
// need, and its secret part (link, code) goes where the outbox erases it after delivery.
func TestPayloadsRender(t *testing.T) {
	r := New(Config{ProductName: "eGovKZ", Location: time.UTC})
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	payloads := map[outbox.Kind]outbox.Payload{
		outbox.RegistrationLink:  outbox.LinkPayload{Link: "https://kilt.example.kz/register/confirm?token=T", Lifetime: 24 * time.Hour},
		outbox.RecoveryLink:      outbox.LinkPayload{Link: "https://kilt.example.kz/recovery/reset?token=T", Lifetime: 30 * time.Minute},
		outbox.RegistrationCode:  outbox.CodePayload{Code: "493817", Lifetime: 10 * time.Minute},
		outbox.RecoveryCode:      outbox.CodePayload{Code: "493817", Lifetime: 10 * time.Minute},
		outbox.AlreadyRegistered: outbox.AlreadyRegisteredPayload{RecoveryURL: "https://kilt.example.kz/recovery"},
		outbox.PasswordChanged:   outbox.PasswordChangedPayload{Time: at, RecoveryURL: "https://kilt.example.kz/recovery", FreezeURL: "https://kilt.example.kz/freeze?token=T"},
		outbox.ChannelChanged:    outbox.ChannelChangedPayload{Time: at, RecoveryURL: "https://kilt.example.kz/recovery", FreezeURL: "https://kilt.example.kz/freeze?token=T"},
		outbox.ChannelUpdated:    outbox.ChannelUpdatedPayload{Time: at, Change: outbox.ChangePhoneAdded, FreezeURL: "https://kilt.example.kz/freeze?token=T"},
		outbox.ChannelLink:       outbox.LinkPayload{Link: "https://kilt.example.kz/account/channels/confirm?token=T", Lifetime: 24 * time.Hour},
		outbox.ChannelCode:       outbox.CodePayload{Code: "493817", Lifetime: 10 * time.Minute},
		outbox.ChannelTaken:      outbox.ChannelTakenPayload{Time: at},
		outbox.AccountFrozen:     outbox.AccountFrozenPayload{Time: at, RecoveryURL: "https://kilt.example.kz/recovery"},
		outbox.DeletionScheduled: outbox.DeletionPayload{CancelLink: "https://kilt.example.kz/deletion/cancel?token=T", DueAt: at,
			FreezeURL: "https://kilt.example.kz/freeze?token=F"},
	}
	for _, m := range catalog {
		p, ok := payloads[m.Kind]
		if !ok {
			t.Errorf("%s: no payload type", m.KindChannel)
			continue
		}
		var msg outbox.Message
		msg.SetPayload(p)
		for _, k := range m.keys {
			if _, ok := msg.Data()[k]; !ok {
				t.Errorf("%s: the payload lacks %q", m.KindChannel, k)
			}
		}
		for k := range msg.Params {
			if k == outbox.KeyLink || k == outbox.KeyCode || k == outbox.KeyFreezeURL {
				t.Errorf("%s: the secret %q is kept in Params", m.KindChannel, k)
			}
		}
		for _, lang := range []string{"kk", "ru", "en"} {
			if _, err := r.Render(m.Kind, m.Channel, lang, msg.Data()); err != nil {
				t.Errorf("%s/%s: %v", lang, m.KindChannel, err)
			}
		}
	}
}
