package kilt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The layering of README's Layout section:
//
//	cmd → server (the wiring) → web, api, admin, oidcop (surfaces) → domain packages
//	sqlstore, mail, sms (adapters) implement the domain's ports; server wires them in.
//
// Every package under internal/ not named below is a domain package.
var (
	surfaces = []string{"web", "api", "admin", "oidcop"}
	adapters = []string{"sqlstore", "mail", "sms"}
	// support packages serve every layer: HTTP helpers for the surfaces, configuration,
	// catalogs, metrics, the message renderer, test harnesses.
	support = []string{"httpx", "config", "i18n", "metrics", "notify", "kilttest", "brand"}
)

// listed is what `go list -json` says of a package.
type listed struct {
	ImportPath string
	Deps       []string // every package it imports, directly or not
}

// role returns the layer of a package of this module: "wiring", "surface", "adapter",
// "support", "domain", or "" for one outside internal/ (cmd, the root package).
func role(path string) string {
	rest, ok := strings.CutPrefix(path, "kilt/internal/")
	if !ok {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	switch {
	case top == "server":
		return "wiring"
	case slices.Contains(surfaces, top):
		return "surface"
	case slices.Contains(adapters, top):
		return "adapter"
	case slices.Contains(support, top):
		return "support"
	}
	return "domain"
}

// layerViolations returns one line per import that breaks the layering.
func layerViolations(pkgs []listed) []string {
	var out []string
	for _, p := range pkgs {
		var forbidden func(dep string) bool
		switch role(p.ImportPath) {
		case "domain":
			// Rules in Go, storage and transports behind ports: no HTTP, no SQL, no HTML,
			// no adapter, surface or wiring.
			forbidden = func(dep string) bool {
				switch dep {
				case "net/http", "database/sql", "html/template":
					return true
				}
				r := role(dep)
				return r == "adapter" || r == "surface" || r == "wiring"
			}
		case "surface":
			// Pages and API call the domain; they never reach storage or a sender.
			forbidden = func(dep string) bool { r := role(dep); return r == "adapter" || r == "wiring" }
		default:
			continue
		}
		for _, dep := range p.Deps {
			if forbidden(dep) {
				out = append(out, p.ImportPath+" ("+role(p.ImportPath)+") imports "+dep)
			}
		}
	}
	return out
}

// TestLayering fails when a package imports across the layering above.
func TestLayering(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-json=ImportPath,Deps", "kilt/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	domain := 0
	for _, p := range pkgs {
		if role(p.ImportPath) == "domain" {
			domain++
		}
	}
	if domain < 5 {
		t.Fatalf("go list gave %d packages, %d of them domain packages: the listing is not the module's", len(pkgs), domain)
	}
	for _, v := range layerViolations(pkgs) {
		t.Error(v)
	}
}

// TestLayerViolationsFound: the check reports what it is meant to, and only that.
func TestLayerViolationsFound(t *testing.T) {
	got := layerViolations([]listed{
		{"kilt/internal/account", []string{"context", "kilt", "kilt/internal/outbox", "net/http"}},
		{"kilt/internal/recovery", []string{"kilt/internal/sqlstore"}},
		{"kilt/internal/session", []string{"database/sql"}},
		{"kilt/internal/password", []string{"html/template"}},
		{"kilt/internal/web", []string{"net/http", "html/template", "kilt/internal/account", "kilt/internal/mail"}},
		{"kilt/internal/api", []string{"kilt/internal/sms", "kilt/internal/httpx"}},
		{"kilt/internal/server", []string{"kilt/internal/sqlstore", "kilt/internal/mail", "net/http"}},
		{"kilt/internal/sqlstore", []string{"database/sql", "kilt/internal/account"}},
		{"kilt/cmd/kilt", []string{"kilt/internal/sqlstore"}},
	})
	want := []string{
		"kilt/internal/account (domain) imports net/http",
		"kilt/internal/recovery (domain) imports kilt/internal/sqlstore",
		"kilt/internal/session (domain) imports database/sql",
		"kilt/internal/password (domain) imports html/template",
		"kilt/internal/web (surface) imports kilt/internal/mail",
		"kilt/internal/api (surface) imports kilt/internal/sms",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
