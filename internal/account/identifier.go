package account

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"kilt"
)

// IdentifierKind says whether an identifier is an e-mail address or a phone number.
type IdentifierKind int

// The kinds of identifier.
const (
	Email IdentifierKind = iota + 1
	Phone
)

func (k IdentifierKind) String() string {
	switch k {
	case Email:
		return "email"
	case Phone:
		return "phone"
	}
	return "unknown"
}

// Identifier is a normalised e-mail address or phone number.
type Identifier struct {
	Kind IdentifierKind
	// Value is the normalised form: an e-mail trimmed with its domain lower-cased, or a phone
	// number in E.164.
	Value string
}

// Key is the form identifiers are compared and looked up by: e-mails compare
// case-insensitively (whole address lower-cased), phones by their E.164 form.
func (id Identifier) Key() string {
	if id.Kind == Email {
		return EmailKey(id.Value)
	}
	return id.Value
}

// EmailKey is the case-insensitive lookup key of a normalised e-mail address.
func EmailKey(email string) string { return strings.ToLower(email) }

const (
	maxEmailLen     = 254 // RFC 5321 path limit
	maxLocalPartLen = 64
	maxPhoneInput   = 32
)

// ParseEmail trims s, checks that it looks like a deliverable address and lower-cases its
// domain. It returns a *kilt.Error of kind invalid (code invalid_email) otherwise. CR, LF
// and every other control or space character are refused, so an address can never inject a
// header into a mail.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailLen || !utf8.ValidString(s) {
		return "", invalidEmail()
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", invalidEmail()
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	// Lower-casing can lengthen a domain (Ⱥ is 2 bytes, ⱥ 3): the limit applies to the result.
	if len(local) > maxLocalPartLen || len(local)+1+len(domain) > maxEmailLen || strings.ContainsRune(local, '@') {
		return "", invalidEmail()
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '"' ||
			r == '(' || r == ')' || r == ',' || r == ';' || r == '\\' || r == '[' || r == ']' {
			return "", invalidEmail()
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", invalidEmail()
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", invalidEmail()
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", invalidEmail()
		}
	}
	return local + "@" + domain, nil
}

func invalidEmail() error { return kilt.E(kilt.KindInvalid, CodeInvalidEmail) }

// ParsePhone parses a phone number written any common way (`+7 701 123 45 67`,
// `87011234567`, `7011234567`), with region as the default country (ISO 3166 alpha-2, "KZ"
// by default), and returns it in E.164. Numbers that libphonenumber does not consider valid
// are refused with code invalid_phone, and so are the few it accepts with more digits than
// E.164 allows (15 with the country code: some German ranges run longer), which no SMS
// gateway would take.
func ParsePhone(s, region string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxPhoneInput || !utf8.ValidString(s) {
		return "", invalidPhone()
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune("+ ()-.", r) {
			return "", invalidPhone()
		}
	}
	if region == "" {
		region = "KZ"
	}
	num, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", invalidPhone()
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if len(e164) > 1+maxE164Digits {
		return "", invalidPhone()
	}
	return e164, nil
}

// maxE164Digits is the most digits an E.164 number has, its country code included (ITU-T
// E.164 §6).
const maxE164Digits = 15

func invalidPhone() error { return kilt.E(kilt.KindInvalid, CodeInvalidPhone) }

// ParseIdentifier reads what a person typed into the one identifier field of the login
// form: an e-mail address when it contains '@', a phone number otherwise.
func ParseIdentifier(s, region string) (Identifier, error) {
	if strings.ContainsRune(s, '@') {
		v, err := ParseEmail(s)
		if err != nil {
			return Identifier{}, err
		}
		return Identifier{Kind: Email, Value: v}, nil
	}
	v, err := ParsePhone(s, region)
	if err != nil {
		return Identifier{}, kilt.E(kilt.KindInvalid, CodeInvalidIdentifier)
	}
	return Identifier{Kind: Phone, Value: v}, nil
}

// MaskEmail hides most of an address for logs: "a***@example.kz".
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(email)
	return string(r) + "***" + email[at:]
}

// MaskPhone hides all but the last two digits of a phone for logs: "+7*******67".
func MaskPhone(phone string) string {
	if len(phone) < 5 {
		return "***"
	}
	return phone[:2] + strings.Repeat("*", len(phone)-4) + phone[len(phone)-2:]
}

// Mask masks an identifier of either kind for logs.
func (id Identifier) Mask() string {
	if id.Kind == Email {
		return MaskEmail(id.Value)
	}
	return MaskPhone(id.Value)
}
