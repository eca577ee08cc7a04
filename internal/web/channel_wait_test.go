package web_test

import (
	"net/url"
	"testing"

	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

// TestChannelCountdownSays: the resend countdown of a new number's code page and of a new
// address's link page is a sentence in the page's language that says what can be asked for
// again and when («Кодты 60 секундтан кейін…», «Сілтемені 60 секундтан кейін…»), with the
// plural forms the script counts down with.
func TestChannelCountdownSays(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "page@mail.kz", "+77011234567", goodPassword)
	for _, lang := range i18n.Langs {
		for _, tt := range []struct{ kind, value, key string }{
			{"phone", "+7 708 123 45 67", "resend_wait"},
			{"email", "other@mail.kz", "channel_link_wait"},
		} {
			b := newBrowserIn(t, e, lang)
			b.signIn("page@mail.kz", goodPassword)
			r := b.follow(b.post("/account/channels", url.Values{"kind": {tt.kind}, "new_channel": {tt.value},
				"current_password": {goodPassword}}))
			if r.Status != 200 {
				t.Fatalf("%s %s: %d", lang, tt.kind, r.Status)
			}
			sentence := i18n.T(lang, tt.key+"."+i18n.PluralForm(lang, 60), "n", `<span class="seconds">60</span>`)
			contains(t, lang+" "+tt.kind+" page", r.Body, sentence, `data-other="`+text(i18n.T(lang, tt.key+".other"))+`"`)
		}
	}
}
