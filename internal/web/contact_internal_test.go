package web

import (
	"html/template"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestContactParts: the pieces of a support contact that are a web address, an e-mail
// address or a phone number become links; the rest, and the separators, stay text.
func TestContactParts(t *testing.T) {
	tests := []struct {
		name    string
		contact string
		want    []ContactPart
	}{
		{"a short number", "1414", []ContactPart{{Text: "1414", Href: "tel:1414"}}},
		{"a number and an address", "+7 (727) 000-00-00, help@akimat.kz", []ContactPart{
			{Text: "+7 (727) 000-00-00", Href: "tel:+77270000000"}, {Text: ","}, {Text: " "},
			{Text: "help@akimat.kz", Href: "mailto:help@akimat.kz"}}},
		{"a web page and words", "https://akimat.kz/help; daily 9–18", []ContactPart{
			{Text: "https://akimat.kz/help", Href: template.URL("https://akimat.kz/help")}, {Text: ";"}, {Text: " "},
			{Text: "daily 9–18"}}},
		{"words only", "the service centre", []ContactPart{{Text: "the service centre"}}},
		{"no script link", "javascript:alert(1)", []ContactPart{{Text: "javascript:alert(1)"}}},
		{"two digits are no number", "12", []ContactPart{{Text: "12"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, contactParts(tt.contact)); diff != "" {
				t.Errorf("contactParts(%q) (-want +got):\n%s", tt.contact, diff)
			}
		})
	}
}
