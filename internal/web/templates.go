package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// templateSet is one page's template: the layout, the shared partials and the page.
type templateSet struct{ t *template.Template }

func (ts *templateSet) execute(w io.Writer, p page) error {
	return ts.t.ExecuteTemplate(w, "layout", p)
}

// Pages are the page templates, each parsed with layout.html and partials.html.
var pages = []string{"login", "register", "register_sent", "register_confirm", "recovery",
	"reset", "account", "logout", "error", "consent", "recovery_desk", "deletion_cancel"}

func mustParseTemplates(a *assets) map[string]*templateSet {
	funcs := template.FuncMap{
		// static is the content-hashed path of an embedded static file.
		"static": a.path,
		// nobreak keeps «e-mail» and «(A–Z)» whole on a narrow screen.
		"nobreak": nobreak,
	}
	out := make(map[string]*templateSet, len(pages))
	for _, name := range pages {
		files := []string{"templates/layout.html", "templates/partials.html", "templates/" + name + ".html"}
		if name == "account" {
			// The account page's sections that live in files of their own (account_*.html).
			files = append(files, "templates/account_*.html")
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			panic(fmt.Sprintf("web: template %s: %v", name, err))
		}
		out[name] = &templateSet{t: t}
	}
	return out
}

// asset is an embedded static file, served under a name that carries its content's hash.
type asset struct {
	body  []byte
	ctype string
}

// assets are the static files: logical name (app.css) → hashed path
// (/static/app.3f2a9c1b.css), and hashed file name → file. A changed file gets a new name,
// so every name can be cached for good.
type assets struct {
	paths map[string]string
	files map[string]asset
}

func mustLoadAssets() *assets {
	a := &assets{paths: map[string]string{}, files: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := path.Base(p)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		a.paths[name] = "/static/" + hashed
		a.files[hashed] = asset{body: body, ctype: ctype}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: static files: %v", err))
	}
	return a
}

// path returns the served path of the static file name; it fails the template (and so the
// test that renders every page) for a name that does not exist.
func (a *assets) path(name string) (string, error) {
	p, ok := a.paths[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return p, nil
}

// serveStatic serves GET /static/{file}: the hashed names only, cached for a year and never
// revalidated (immutable).
func (s *Site) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := s.assets.files[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
