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
	"slices"
	"strings"
	"time"

	"kilt/internal/brand"
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
	"reset", "account", "logout", "error", "consent", "recovery_desk",
	"channel", "channel_confirm", "freeze", "deletion_cancel"}

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
		// A page's sections may come in files of their own (templates/account_channels.html
		// defines "account_channels" for account.html): every NAME_*.html that is not a page.
		parts, _ := fs.Glob(templateFS, "templates/"+name+"_*.html")
		for _, f := range parts {
			if !slices.Contains(pages, strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")) {
				files = append(files, f)
			}
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

// The operator's assets, served like the embedded ones: brand.css (the brand's colours,
// linked after app.css) and the logo.
const (
	brandCSSAsset = "brand.css"
	logoAsset     = "logo"
)

// addBrand adds the brand's stylesheet and logo to the assets.
func (a *assets) addBrand(b *brand.Brand) {
	a.add(brandCSSAsset, []byte(b.Palette.CSS()), "text/css; charset=utf-8")
	if b.Logo != nil {
		hashed := b.Logo.Name()
		a.paths[logoAsset] = "/static/" + hashed
		a.files[hashed] = asset{body: b.Logo.Body, ctype: b.Logo.Type}
	}
}

// add serves body under name with its content hash.
func (a *assets) add(name string, body []byte, ctype string) {
	sum := sha256.Sum256(body)
	ext := path.Ext(name)
	hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
	a.paths[name] = "/static/" + hashed
	a.files[hashed] = asset{body: body, ctype: ctype}
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
