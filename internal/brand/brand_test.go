package brand_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kilt/internal/brand"
	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

const goodSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#14532d"/></svg>`

// write writes files (name → content) into a new directory and returns it.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadRefuses: each mistake of the operator is a problem naming its setting and what is
// wrong, and only that one.
func TestLoadRefuses(t *testing.T) {
	logos := write(t, map[string]string{
		"good.svg":    goodSVG,
		"script.svg":  `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
		"onload.svg":  `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`,
		"remote.svg":  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="https://evil.example/x.png"/></svg>`,
		"html.svg":    `<html><body>not an image</body></html>`,
		"fake.png":    "GIF89a not a png",
		"logo.gif":    "GIF89a",
		"broken.svg":  `<svg xmlns="http://www.w3.org/2000/svg"><rect>`,
		"logo.png":    "\x89PNG\r\n\x1a\n rest of a png",
		"letters.txt": "x",
	})
	tests := []struct {
		name string
		cfg  brand.Config
		want string // in the one problem; "" for none
	}{
		{"nothing configured", brand.Config{}, ""},
		{"everything good", brand.Config{Name: "Portal", Names: map[string]string{"kk": "Портал"}, Color: "#14532d",
			LogoFile: filepath.Join(logos, "good.svg"), Support: "1414"}, ""},
		{"a PNG logo", brand.Config{LogoFile: filepath.Join(logos, "logo.png")}, ""},
		{"a colour white text is unreadable on", brand.Config{Color: "#ffcc00"}, "KILT_BRAND_COLOR \"#ffcc00\": white text on it has a contrast of 1.5:1, below the 4.5:1"},
		{"a colour that is no colour", brand.Config{Color: "blue"}, "KILT_BRAND_COLOR \"blue\": want a colour as #rrggbb"},
		{"a missing logo", brand.Config{LogoFile: filepath.Join(logos, "none.svg")}, "KILT_BRAND_LOGO"},
		{"a logo with a script", brand.Config{LogoFile: filepath.Join(logos, "script.svg")}, "must not contain <script>"},
		{"a logo with an event handler", brand.Config{LogoFile: filepath.Join(logos, "onload.svg")}, "event handlers"},
		{"a logo fetching an outside image", brand.Config{LogoFile: filepath.Join(logos, "remote.svg")}, "must not refer to other files"},
		{"an HTML file named .svg", brand.Config{LogoFile: filepath.Join(logos, "html.svg")}, "not an SVG image"},
		{"a broken SVG", brand.Config{LogoFile: filepath.Join(logos, "broken.svg")}, "not a well-formed SVG"},
		{"a GIF named .png", brand.Config{LogoFile: filepath.Join(logos, "fake.png")}, "not a PNG image"},
		{"a GIF", brand.Config{LogoFile: filepath.Join(logos, "logo.gif")}, "want an .svg or .png file"},
		{"a name with a line break", brand.Config{Names: map[string]string{"ru": "Портал\nBcc: x"}}, "KILT_BRAND_NAME_RU"},
		{"a name with markup", brand.Config{Name: "<b>Portal</b>"}, "KILT_BRAND_NAME \"<b>Portal</b>\": want a name without < or >"},
		{"a support contact with a line break", brand.Config{Support: "1414\r\nBcc: x"}, "KILT_SUPPORT_CONTACT"},
		{"a texts directory that is not there", brand.Config{TextsDir: filepath.Join(logos, "none")}, "KILT_TEXTS_DIR: cannot read the directory"},
		{"an unknown key", brand.Config{TextsDir: write(t, map[string]string{"ru.json": `{"no_such_message": "x"}`})},
			`KILT_TEXTS_DIR: ru.json: key "no_such_message": no such message in the catalogs`},
		{"a manual label changed", brand.Config{TextsDir: write(t, map[string]string{"kk.json": `{"link_forgot": "Құпия сөз есіңізде жоқ па?"}`})},
			`kk.json: key "link_forgot": is a label of the portal's manual, kept verbatim ("Құпия сөзді ұмыттыңыз ба?")`},
		{"placeholders changed", brand.Config{TextsDir: write(t, map[string]string{"en.json": `{"support_contact": "Call {phone}"}`})},
			`en.json: key "support_contact": placeholders {phone}, want those of the message: {contact}`},
		{"a placeholder dropped", brand.Config{TextsDir: write(t, map[string]string{"en.json": `{"support_contact": "Call us"}`})},
			`placeholders none, want those of the message: {contact}`},
		{"a text with a line break", brand.Config{TextsDir: write(t, map[string]string{"en.json": `{"support_contact": "Help:\n{contact}"}`})},
			`key "support_contact": want one line without control characters`},
		{"an app_name override with markup", brand.Config{TextsDir: write(t, map[string]string{"en.json": `{"app_name": "<i>Portal</i>"}`})},
			`key "app_name": want a name without < or >`},
		{"an empty text", brand.Config{TextsDir: write(t, map[string]string{"en.json": `{"app_name": " "}`})}, `key "app_name": empty text`},
		{"a file of no language", brand.Config{TextsDir: write(t, map[string]string{"fr.json": `{}`})}, "fr.json: want only kk.json, ru.json or en.json"},
		{"not JSON", brand.Config{TextsDir: write(t, map[string]string{"kk.json": `app_name: x`})}, "kk.json: want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := brand.Load(tt.cfg)
			if tt.want == "" {
				if len(problems) > 0 {
					t.Fatalf("got problems %q, want none", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) {
				t.Fatalf("got problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

// TestOverrides: an override changes the message everywhere once installed, a manual label
// may be repeated as it is, and Russian or English labels may be reworded.
func TestOverrides(t *testing.T) {
	dir := write(t, map[string]string{
		"kk.json": `{"app_name": "Әкімдік", "link_forgot": "Құпия сөзді ұмыттыңыз ба?"}`,
		"ru.json": `{"link_forgot": "Не помните пароль?", "support_contact": "Помощь: {contact}"}`,
	})
	b, problems := brand.Load(brand.Config{TextsDir: dir})
	if len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	if got := i18n.T("ru", "link_forgot"); got == "Не помните пароль?" {
		t.Fatal("overrides applied before Install")
	}
	restore := b.Install()
	defer restore()
	if got := i18n.T("ru", "link_forgot"); got != "Не помните пароль?" {
		t.Errorf("ru link_forgot: got %q, want the override", got)
	}
	if got := i18n.T("ru", "support_contact", "contact", "1414"); got != "Помощь: 1414" {
		t.Errorf("ru support_contact: got %q", got)
	}
	if got := b.Name("kk"); got != "Әкімдік" {
		t.Errorf("kk name: got %q, want the app_name override", got)
	}
	if got := b.Name("en"); got != "Portal" {
		t.Errorf("en name: got %q, want the default Portal", got)
	}
	restore()
	if got := i18n.T("ru", "link_forgot"); got == "Не помните пароль?" {
		t.Error("restore left the override in place")
	}
}

// TestDefaults: the neutral names, and the consent version the tests give equals the built-in
// text's; a reworded consent is a new version.
func TestDefaults(t *testing.T) {
	b := brand.Default()
	for lang, want := range map[string]string{"kk": "Портал", "ru": "Портал", "en": "Portal"} {
		if got := b.Name(lang); got != want {
			t.Errorf("%s: name %q, want %q", lang, got, want)
		}
	}
	if got := b.ConsentVersion(); got != kilttest.ConsentVersion {
		t.Errorf("consent version %q, kilttest.ConsentVersion %q: set the constant to the new version", got, kilttest.ConsentVersion)
	}
	reworded, problems := brand.Load(brand.Config{TextsDir: write(t, map[string]string{
		"en.json": `{"personal_data_consent_text": "We keep your e-mail address or number and your password's hash to run your account."}`})})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if reworded.ConsentVersion() == b.ConsentVersion() {
		t.Error("a reworded consent kept the version")
	}
	if got := reworded.ConsentText("en"); !strings.HasPrefix(got, "We keep") {
		t.Errorf("consent text %q, want the override", got)
	}
}

// TestPalette: every accepted colour gives white text at least 4.5:1 and a dark-mode variant
// at least 4.5:1 on the dark surface.
func TestPalette(t *testing.T) {
	for _, c := range []string{"#0b5394", "#14532d", "#000", "#7a1f1f", "#5b21b6", "#0f766e", "#b3261e"} {
		p, err := brand.NewPalette(c)
		if err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		if r := brand.ContrastHex(p.Accent, brand.White); r < 4.5 {
			t.Errorf("%s: white on the accent %.2f:1", c, r)
		}
		if r := brand.ContrastHex(p.Light, brand.DarkSurface); r < 4.5 {
			t.Errorf("%s: the dark-mode variant %s on %s %.2f:1", c, p.Light, brand.DarkSurface, r)
		}
		if r := brand.ContrastHex(p.Hover, brand.White); r < 4.5 {
			t.Errorf("%s: white on the hover colour %.2f:1", c, r)
		}
	}
	if _, err := brand.NewPalette("#767676"); err != nil {
		t.Errorf("#767676 (4.54:1) refused: %v", err)
	}
	if _, err := brand.NewPalette("#777777"); err == nil {
		t.Error("#777777 (4.48:1) accepted")
	}
}
