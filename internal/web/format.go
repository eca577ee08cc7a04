package web

import (
	"html/template"
	"regexp"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"kilt/internal/i18n"
)

// displayPhone spells an E.164 number for reading. A Kazakh number reads as the hints write
// it, «+7 701 123 45 67»; others the international way.
func displayPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	if d := strings.TrimPrefix(e164, "+7"); len(d) == 10 && len(e164) == 12 && allDigits(d) {
		return "+7 " + d[0:3] + " " + d[3:6] + " " + d[6:8] + " " + d[8:10]
	}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// mask is the dot that stands for a hidden character.
const mask = "•"

// maskPhone shows where a code went without showing the whole number: the country code, the
// operator's code and the last two digits, «+7 701 ••• •• 67».
func maskPhone(e164 string) string {
	groups := strings.Fields(displayPhone(e164))
	if len(groups) < 3 {
		return ""
	}
	for i := 2; i < len(groups); i++ {
		g := groups[i]
		if i == len(groups)-1 && len(g) >= 2 {
			groups[i] = strings.Repeat(mask, len(g)-2) + g[len(g)-2:]
			continue
		}
		groups[i] = strings.Repeat(mask, len(g))
	}
	return strings.Join(groups, " ")
}

// maskEmail shows where a link went without showing the whole address: its first character
// and its domain, «a•••@mail.kz»; "" for what is not an address.
func maskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" {
		return ""
	}
	first := []rune(local)[0]
	return string(first) + strings.Repeat(mask, 3) + "@" + domain
}

// duration is d in words in lang, in the largest unit that divides it: «24 сағат», not
// «1440 минут».
func duration(lang string, d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		n := int(d / time.Hour)
		return i18n.N(lang, "duration_hours", n)
	case d >= time.Minute && d%time.Minute == 0:
		n := int(d / time.Minute)
		return i18n.N(lang, "duration_minutes", n)
	}
	n := int((d + time.Second - 1) / time.Second)
	return i18n.N(lang, "duration_seconds", n)
}

// unbroken are what a narrow screen must not break: «e-mail» read as «e-» and «mail»,
// «(A–» and «Z)», a phone number in the hints («+7 701 / 123 45 67»).
var unbroken = regexp.MustCompile(`[eE]-mail|[Aa]–[Zz]|0–9|\+7 \d{3} \d{3} \d{2} \d{2}`)

// nobreak is the text s, escaped, with the words of unbroken kept whole on one line. It only
// wraps them (the text a screen reader or a copy reads is unchanged).
func nobreak(s string) template.HTML {
	out := unbroken.ReplaceAllString(template.HTMLEscapeString(s), `<span class="nowrap">$0</span>`)
	return template.HTML(out)
}
