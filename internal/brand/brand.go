// Package brand is the operator's identity on every page and in every message (SPEC §11):
// the portal's name in each language, its logo, its accent colour and its support contact;
// the operator's own wording of any catalog message (KILT_TEXTS_DIR); and the personal-data
// consent shown at registration, whose version is recorded with the account.
//
// Load checks all of it at start and returns one clear problem per mistake, so that
// `kilt serve` and `kilt config check` refuse a configuration the pages could not honour: a
// colour white text is unreadable on, a logo that is not an SVG or PNG image, an override of
// a message that does not exist, of a label the portal's manual fixes, or with placeholders
// other than the message's own.
//
// Decisions:
//   - The default brand (nothing configured) is the catalog's app_name: «Портал» in Kazakh
//     and Russian, "Portal" in English. Neutral, since Kilt is the portal's account service
//     and not a brand of its own, and six letters, so that a code SMS keeps one segment.
//     KILT_BRAND_NAME names the portal in every language; KILT_BRAND_NAME_KK, _RU and _EN
//     name it in one. An override of app_name in KILT_TEXTS_DIR does the same.
//   - The colour is refused, not adjusted, when white text on it is below 4.5:1 (WCAG AA):
//     it is the background of the main buttons and the colour of links on white, and a
//     silently changed colour is not the operator's colour. In dark mode links need a light
//     colour: Load derives it by mixing the brand colour with white until it reaches 4.5:1 on
//     the dark background.
//   - Locked keys: the Kazakh labels the manual quotes (LockedKeys) stay verbatim in
//     Kazakh; an override may repeat them but not change them. Russian and English are
//     Kilt's translations and may be reworded.
//   - The consent version is derived from the consent text in the three languages (a hash),
//     so that rewording the consent, by a new release or an override, is a new version that
//     nobody can forget to raise; clients read it from GET /api/v1/consent.
package brand

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"kilt/internal/i18n"
)

// Config is the operator's settings (internal/config reads them from the environment).
type Config struct {
	// Name is the portal's name in every language (KILT_BRAND_NAME); Names, by language,
	// win over it (KILT_BRAND_NAME_KK, _RU, _EN).
	Name  string
	Names map[string]string
	// LogoFile is an SVG or PNG file (KILT_BRAND_LOGO); "": the built-in key icon.
	LogoFile string
	// Color is the accent colour, #rrggbb or #rgb (KILT_BRAND_COLOR); "": DefaultColor.
	Color string
	// Support is how citizens reach a person (KILT_SUPPORT_CONTACT), shown on every page and
	// in every message; "": none shown.
	Support string
	// TextsDir holds kk.json, ru.json and en.json overriding catalog messages
	// (KILT_TEXTS_DIR); "": none.
	TextsDir string
}

// DefaultColor is the accent colour when none is configured: 7.8:1 with white.
const DefaultColor = "#0b5394"

// ConsentKey is the catalog key of the personal-data consent text.
const ConsentKey = "personal_data_consent_text"

// Brand is the checked identity of one portal. The zero value is not usable; see Load and
// Default.
type Brand struct {
	names   map[string]string
	Logo    *Logo
	Palette Palette
	Support string
	texts   map[string]map[string]string
	consent string
}

// Default is the brand with nothing configured.
func Default() *Brand {
	b, problems := Load(Config{})
	if len(problems) > 0 {
		panic("brand: the default brand is invalid: " + strings.Join(problems, "; "))
	}
	return b
}

// Load checks cfg and returns the brand, or every problem found (each naming its setting).
func Load(cfg Config) (*Brand, []string) {
	var problems []string
	b := &Brand{names: map[string]string{}, texts: map[string]map[string]string{}}
	if cfg.Name != "" {
		if err := checkName(cfg.Name); err != nil {
			problems = append(problems, fmt.Sprintf("KILT_BRAND_NAME %q: %v", cfg.Name, err))
		}
	}
	for _, l := range i18n.Langs {
		n := cfg.Names[l]
		if n == "" {
			n = cfg.Name
		} else if err := checkName(n); err != nil {
			problems = append(problems, fmt.Sprintf("KILT_BRAND_NAME_%s %q: %v", strings.ToUpper(l), n, err))
		}
		if n != "" {
			b.names[l] = n
		}
	}
	color := cfg.Color
	if color == "" {
		color = DefaultColor
	}
	p, err := NewPalette(color)
	if err != nil {
		problems = append(problems, fmt.Sprintf("KILT_BRAND_COLOR %q: %v", cfg.Color, err))
	}
	b.Palette = p
	if cfg.LogoFile != "" {
		logo, err := LoadLogo(cfg.LogoFile)
		if err != nil {
			problems = append(problems, fmt.Sprintf("KILT_BRAND_LOGO %q: %v", cfg.LogoFile, err))
		}
		b.Logo = logo
	}
	if s := strings.TrimSpace(cfg.Support); s != "" {
		if err := checkText(s, 200); err != nil {
			problems = append(problems, fmt.Sprintf("KILT_SUPPORT_CONTACT: %v", err))
		}
		b.Support = s
	}
	if cfg.TextsDir != "" {
		texts, ps := LoadTexts(cfg.TextsDir)
		for _, p := range ps {
			problems = append(problems, "KILT_TEXTS_DIR: "+p)
		}
		b.texts = texts
	}
	b.consent = b.consentVersion()
	return b, problems
}

// Install makes the brand's text overrides the process's (i18n.SetOverrides) and returns
// the function that takes them back.
func (b *Brand) Install() (restore func()) { return i18n.SetOverrides(b.texts) }

// HasTexts reports whether the brand overrides any catalog message.
func (b *Brand) HasTexts() bool {
	for _, t := range b.texts {
		if len(t) > 0 {
			return true
		}
	}
	return false
}

// Name is the portal's name in lang.
func (b *Brand) Name(lang string) string {
	if n := b.names[lang]; n != "" {
		return n
	}
	return b.message(lang, "app_name")
}

// Names is the portal's name in every language.
func (b *Brand) Names() map[string]string {
	out := make(map[string]string, len(i18n.Langs))
	for _, l := range i18n.Langs {
		out[l] = b.Name(l)
	}
	return out
}

// ConsentText is the personal-data consent in lang.
func (b *Brand) ConsentText(lang string) string { return b.message(lang, ConsentKey) }

// ConsentVersion is the version of the consent text: registration requires it.
func (b *Brand) ConsentVersion() string { return b.consent }

// message is key in lang as this brand words it: its override, else the catalog's.
func (b *Brand) message(lang, key string) string {
	if m, ok := b.texts[lang][key]; ok {
		return m
	}
	if m, ok := i18n.Message(lang, key); ok {
		return m
	}
	m, _ := i18n.Message("en", key)
	return m
}

func (b *Brand) consentVersion() string {
	h := sha256.New()
	for _, l := range i18n.Langs {
		fmt.Fprintf(h, "%s\x00%s\x00", l, b.message(l, ConsentKey))
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

func checkName(n string) error {
	if strings.ContainsAny(n, "<>") {
		return fmt.Errorf("want a name without < or >")
	}
	return checkText(n, 64)
}

// checkText refuses what could break a header line, an SMS or a page: control characters
// and Unicode line separators, and more than max characters.
func checkText(s string, max int) error {
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
		return fmt.Errorf("want one line without control characters")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%d characters, at most %d", n, max)
	}
	return nil
}
