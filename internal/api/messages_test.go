package api_test

import (
	"encoding/json"
	"testing"

	"kilt/internal/api"
	"kilt/internal/i18n"
	"kilt/internal/password"
)

// TestEveryErrorCodeHasAMessage: each error code the API can answer — every code the
// OpenAPI document enumerates, every password rule, and the codes of the middleware — has
// a message in Kazakh, Russian and English.
func TestEveryErrorCodeHasAMessage(t *testing.T) {
	var doc any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{"not_found": true, "method_not_allowed": true, "cross_origin": true, "internal": true}
	var walk func(x any)
	walk = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				if code, ok := props["code"].(map[string]any); ok {
					if enum, ok := code["enum"].([]any); ok {
						for _, c := range enum {
							codes[c.(string)] = true
						}
					}
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	for _, r := range password.DefaultPolicy().Describe().Rules {
		codes[r.Code] = true
	}
	if len(codes) < 30 {
		t.Fatalf("found only %d codes: the document's shape changed?", len(codes))
	}
	for code := range codes {
		for _, lang := range i18n.Langs {
			if !i18n.Has(lang, code) {
				t.Errorf("error code %s has no %s message", code, lang)
			}
		}
	}
}
