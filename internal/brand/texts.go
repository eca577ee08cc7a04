package brand

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"kilt/internal/i18n"
)

// LockedKeys are the catalog keys whose Kazakh text is a label of the portal's manual,
// quoted verbatim (seeds/TRANSLATION.md): the citizen follows the manual's words, so an
// override may not change them in Kazakh.
var LockedKeys = []string{
	"link_forgot",            // «Құпия сөзді ұмыттыңыз ба?»
	"button_send",            // «Жіберу»
	"button_send_code",       // «Кодты жіберу»
	"label_code",             // «Растау коды»
	"label_password",         // «Құпия сөз»
	"label_password_confirm", // «Құпия сөзді қайталау»
	"button_save",            // «Сақтау»
	"recovery_email_sent",    // «Сіз көрсеткен e-mail-ге … жіберілді»
}

// lockedLang is the language whose labels the manual fixes.
const lockedLang = "kk"

// LoadTexts reads the overrides of dir: LANG.json files (kk.json, ru.json, en.json, any of
// them), each a JSON object of catalog key → message. It returns every problem: a file that
// is not a language's, a key the catalogs do not have, an empty message, placeholders other
// than the catalog message's, a changed manual label.
func LoadTexts(dir string) (map[string]map[string]string, []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []string{fmt.Sprintf("cannot read the directory %q: %v", dir, unwrapPath(err))}
	}
	out := map[string]map[string]string{}
	var problems []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		lang, ok := strings.CutSuffix(name, ".json")
		if !ok || !slices.Contains(i18n.Langs, lang) {
			problems = append(problems, fmt.Sprintf("%s: want only kk.json, ru.json or en.json", name))
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: cannot read it: %v", name, unwrapPath(err)))
			continue
		}
		texts := map[string]string{}
		if err := json.Unmarshal(b, &texts); err != nil {
			problems = append(problems, fmt.Sprintf("%s: want a JSON object of message key → text: %v", name, err))
			continue
		}
		keys := make([]string, 0, len(texts))
		for k := range texts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p := checkOverride(lang, k, texts[k]); p != "" {
				problems = append(problems, fmt.Sprintf("%s: key %q: %s", name, k, p))
			}
		}
		out[lang] = texts
	}
	return out, problems
}

// checkOverride returns what is wrong with overriding key in lang by msg, or "".
func checkOverride(lang, key, msg string) string {
	orig, ok := i18n.Message(lang, key)
	if !ok {
		return "no such message in the catalogs"
	}
	if strings.TrimSpace(msg) == "" {
		return "empty text"
	}
	// Messages go into e-mail subjects and SMS too: one line, like every catalog message.
	if err := checkText(msg, 2000); err != nil {
		return err.Error()
	}
	// app_name is the portal's name: it heads messages and the From of e-mails.
	if key == "app_name" {
		if err := checkName(msg); err != nil {
			return err.Error()
		}
	}
	if lang == lockedLang && slices.Contains(LockedKeys, key) && msg != orig {
		return fmt.Sprintf("is a label of the portal's manual, kept verbatim (%q)", orig)
	}
	if got, want := i18n.Placeholders(msg), i18n.Placeholders(orig); !slices.Equal(got, want) {
		return fmt.Sprintf("placeholders %s, want those of the message: %s", list(got), list(want))
	}
	return ""
}

func list(ps []string) string {
	if len(ps) == 0 {
		return "none"
	}
	return strings.Join(ps, " ")
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
