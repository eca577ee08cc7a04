package i18n

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// TestCatalogPartsMerge: a language's catalog is its main file and its parts merged; a key
// in two files is refused.
func TestCatalogPartsMerge(t *testing.T) {
	files := fstest.MapFS{}
	for _, l := range Langs {
		files["catalogs/"+l+".json"] = &fstest.MapFile{Data: []byte(`{"a": "1"}`)}
		files["catalogs/"+l+".extra.json"] = &fstest.MapFile{Data: []byte(`{"b": "2"}`)}
	}
	got, err := load(files)
	if err != nil || got["ru"]["a"] != "1" || got["ru"]["b"] != "2" {
		t.Fatalf("merged: %v %v", got["ru"], err)
	}
	files["catalogs/kk.more.json"] = &fstest.MapFile{Data: []byte(`{"a": "3"}`)}
	if _, err := load(files); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("a key defined twice: %v, want an error naming it", err)
	}
}

// TestCatalogsComplete: every key of any language's catalog (its main file and its parts)
// has a non-empty message in every language.
func TestCatalogsComplete(t *testing.T) {
	for _, p := range incomplete(catalogs) {
		t.Error(p)
	}
	if n := len(Keys("kk")); n < 10 {
		t.Fatalf("got %d keys, want the catalogs loaded", n)
	}
}

// TestIncompleteFindsAMissingKey: a key one language's part file lacks is reported, naming
// the language and the key.
func TestIncompleteFindsAMissingKey(t *testing.T) {
	files := fstest.MapFS{}
	for _, l := range Langs {
		files["catalogs/"+l+".json"] = &fstest.MapFile{Data: []byte(`{"a": "1"}`)}
		files["catalogs/"+l+".brand.json"] = &fstest.MapFile{Data: []byte(`{"b": "2", "c": "3"}`)}
	}
	files["catalogs/ru.brand.json"] = &fstest.MapFile{Data: []byte(`{"b": "2", "c": " "}`)}
	files["catalogs/en.brand.json"] = &fstest.MapFile{Data: []byte(`{"b": "2"}`)}
	cats, err := load(files)
	if err != nil {
		t.Fatal(err)
	}
	got := incomplete(cats)
	want := []string{`catalog en: key "c" missing or empty`, `catalog ru: key "c" missing or empty`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// incomplete lists, sorted, each key of some language that another lacks or has empty.
func incomplete(cats map[string]map[string]string) []string {
	all := map[string]bool{}
	for _, l := range Langs {
		for k := range cats[l] {
			all[k] = true
		}
	}
	var out []string
	for _, l := range Langs {
		for k := range all {
			if strings.TrimSpace(cats[l][k]) == "" {
				out = append(out, fmt.Sprintf("catalog %s: key %q missing or empty", l, k))
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestPlaceholdersAgree(t *testing.T) {
	keys := Keys("en")
	sort.Strings(keys)
	for _, k := range keys {
		want := placeholders(catalogs["en"][k])
		for _, l := range []string{"kk", "ru"} {
			if got := placeholders(catalogs[l][k]); got != want {
				t.Errorf("%s %q: placeholders %q, want %q (as in en)", l, k, got, want)
			}
		}
	}
}

func placeholders(s string) string {
	var out []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestPluralForm(t *testing.T) {
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"ru", 1, "one"}, {"ru", 21, "one"}, {"ru", 11, "many"}, {"ru", 2, "few"}, {"ru", 4, "few"},
		{"ru", 12, "many"}, {"ru", 5, "many"}, {"ru", 0, "many"}, {"ru", 101, "one"}, {"ru", 112, "many"},
		{"kk", 1, "one"}, {"kk", 2, "other"}, {"kk", 0, "other"}, {"en", 1, "one"}, {"en", 5, "other"},
	}
	for _, tt := range tests {
		if got := PluralForm(tt.lang, tt.n); got != tt.want {
			t.Errorf("PluralForm(%s, %d) = %s, want %s", tt.lang, tt.n, got, tt.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name     string
		explicit []string
		accept   string
		want     string
	}{
		{"query wins", []string{"ru", "en"}, "en", "ru"},
		{"unsupported explicit skipped", []string{"de", "en"}, "ru", "en"},
		{"accept-language", nil, "ru-RU,ru;q=0.9,en;q=0.8", "ru"},
		{"accept-language english", nil, "en-US,en;q=0.9", "en"},
		{"kazakh", nil, "kk-KZ", "kk"},
		{"nothing matches", nil, "de-DE", "kk"},
		{"garbage", nil, ";;;q=", "kk"},
		{"empty", nil, "", "kk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Negotiate(tt.explicit, tt.accept, "kk"); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTFillsAndFallsBack(t *testing.T) {
	if got, want := T("en", "password_too_short", "min", 8), "The password must be at least 8 characters long."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := T("kk", "no_such_key"); got != "no_such_key" {
		t.Errorf("missing key: got %q, want the key", got)
	}
}
