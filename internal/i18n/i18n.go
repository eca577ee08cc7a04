// Package i18n holds Kilt's message catalogs — Kazakh first, Russian and English — and
// chooses the language of a request. Messages are looked up by stable keys; the error codes
// of the API are keys too, so every error a user can meet has a message in every language.
// A message may carry {name} placeholders, and plural forms under key.one, key.few,
// key.many and key.other (Russian one/few/many, Kazakh and English one/other).
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/text/language"
)

// Langs are the supported languages, the default first.
var Langs = []string{"kk", "ru", "en"}

//go:embed catalogs
var catalogFS embed.FS

var catalogs = mustLoad()

func mustLoad() map[string]map[string]string {
	out, err := load(catalogFS)
	if err != nil {
		panic("i18n: " + err.Error())
	}
	return out
}

// load reads each language's catalog: catalogs/LANG.json and any catalogs/LANG.PART.json
// (a part of the product keeps its messages in a file of its own), merged; a key defined in
// two files is an error.
func load(fsys fs.FS) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(Langs))
	for _, l := range Langs {
		parts, err := fs.Glob(fsys, "catalogs/"+l+".*.json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, name := range append([]string{"catalogs/" + l + ".json"}, parts...) {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("catalog %s: %w", l, err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("catalog %s: %w", name, err)
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("catalog %s: key %q is defined twice", name, k)
				}
				m[k] = v
			}
		}
		out[l] = m
	}
	return out, nil
}

// Keys returns every key of the catalog of lang.
func Keys(lang string) []string {
	keys := make([]string, 0, len(catalogs[lang]))
	for k := range catalogs[lang] {
		keys = append(keys, k)
	}
	return keys
}

// Has reports whether lang's catalog has key (directly or with plural forms).
func Has(lang, key string) bool {
	c := catalogs[lang]
	if _, ok := c[key]; ok {
		return true
	}
	_, ok := c[key+".other"]
	return ok
}

// Message returns the built-in message key of lang as the catalog has it (placeholders
// unfilled, overrides not applied), and whether it exists.
func Message(lang, key string) (string, bool) {
	msg, ok := catalogs[lang][key]
	return msg, ok
}

// overrides are the operator's texts (KILT_TEXTS_DIR, checked by package brand): lang → key →
// message, consulted before the catalogs. They are process-wide, like the catalogs: one
// process serves one portal, and they are set once at start, before any request.
var overrides atomic.Pointer[map[string]map[string]string]

// SetOverrides makes texts (lang → key → message) replace the catalogs' messages of the same
// keys, and returns a function that restores the previous overrides (for tests). The caller
// has checked the keys and placeholders (brand.Load does).
func SetOverrides(texts map[string]map[string]string) (restore func()) {
	prev := overrides.Swap(&texts)
	return func() { overrides.Store(prev) }
}

func lookup(lang, key string) (string, bool) {
	if o := overrides.Load(); o != nil {
		if msg, ok := (*o)[lang][key]; ok {
			return msg, true
		}
	}
	msg, ok := catalogs[lang][key]
	return msg, ok
}

// T returns the message key in lang with args (name, value pairs) put in its {name}
// placeholders: the operator's override if there is one, else the catalog's. A missing key
// falls back to English, then to the key itself, so a page never breaks; the catalog test
// keeps that from happening.
func T(lang, key string, args ...any) string {
	msg, ok := lookup(lang, key)
	if !ok {
		msg, ok = lookup("en", key)
	}
	if !ok {
		return key
	}
	return fill(msg, args)
}

// N returns the plural form of key for count n in lang, with {n} and args filled in.
func N(lang, key string, n int, args ...any) string {
	form := key + "." + PluralForm(lang, n)
	if _, ok := catalogs[lang][form]; !ok {
		form = key + ".other"
	}
	return T(lang, form, append([]any{"n", n}, args...)...)
}

// Placeholders returns the {name} placeholders of msg, sorted, each once.
func Placeholders(msg string) []string {
	seen := map[string]bool{}
	var out []string
	for {
		i := strings.IndexByte(msg, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(msg[i:], '}')
		if j < 0 {
			break
		}
		if p := msg[i : i+j+1]; !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
		msg = msg[i+j+1:]
	}
	sort.Strings(out)
	return out
}

func fill(msg string, args []any) string {
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		name, _ := args[i].(string)
		var v string
		switch x := args[i+1].(type) {
		case string:
			v = x
		case int:
			v = strconv.Itoa(x)
		default:
			v = fmt.Sprint(x)
		}
		pairs = append(pairs, "{"+name+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// PluralForm returns the CLDR plural category of n in lang: Russian one/few/many, Kazakh
// and English one/other.
func PluralForm(lang string, n int) string {
	if n < 0 {
		n = -n
	}
	if lang == "ru" {
		switch m10, m100 := n%10, n%100; {
		case m10 == 1 && m100 != 11:
			return "one"
		case m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14):
			return "few"
		default:
			return "many"
		}
	}
	if n == 1 {
		return "one"
	}
	return "other"
}

var matcher = language.NewMatcher([]language.Tag{language.Kazakh, language.Russian, language.English})

// Supported reports whether lang is one of Langs.
func Supported(lang string) bool { return lang == "kk" || lang == "ru" || lang == "en" }

// Negotiate picks the language of a request: an explicit choice (the ?lang= parameter, then
// the language cookie) when supported, then the best match of Accept-Language, then def.
func Negotiate(explicit []string, acceptLanguage, def string) string {
	for _, e := range explicit {
		if Supported(e) {
			return e
		}
	}
	if acceptLanguage != "" && len(acceptLanguage) < 512 {
		if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
			if _, idx, conf := matcher.Match(tags...); conf != language.No {
				return Langs[idx]
			}
		}
	}
	return def
}
