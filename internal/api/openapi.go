package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"kilt"
)

// CodeNotAcceptable is the error of a request whose Accept header admits no JSON.
const CodeNotAcceptable = "not_acceptable"

// openAPIDocument is the OpenAPI 3.1 description of every call of the API. It is written by
// hand; TestOpenAPI* hold it to the handlers (every route documented and every documented
// operation served, real responses valid against the documented schemas).
//
//go:embed openapi.json
var openAPIDocument []byte

func init() {
	// A broken document is a build mistake: fail at start, not when a client asks for it.
	if !json.Valid(openAPIDocument) {
		panic("api: the embedded openapi.json is not valid JSON")
	}
}

// OpenAPI returns the OpenAPI 3.1 document of the API, as served at GET /api/openapi.json.
// The caller may modify the returned slice.
func OpenAPI() []byte { return bytes.Clone(openAPIDocument) }

// jsonOnly refuses with 406 not_acceptable a request whose Accept header admits none of
// application/json, the media types in also, or a range covering them; no Accept header
// admits everything. The calls that take no input have no other client error to give: this
// one tells a client that asked for HTML or YAML that it will not get it.
func (a *API) jsonOnly(fn handlerFunc, also ...string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !accepts(r.Header.Values("Accept"), append([]string{"application/json"}, also...)) {
			a.errors.ErrorStatus(w, r, http.StatusNotAcceptable, kilt.E(kilt.KindInvalid, CodeNotAcceptable))
			return nil
		}
		return fn(w, r)
	}
}

// accepts reports whether the Accept header values admit one of types: a media range
// */*, type/* or the type itself, with a quality above 0. Unparsable ranges are skipped.
func accepts(header []string, types []string) bool {
	if len(header) == 0 {
		return true
	}
	for _, h := range header {
		for _, rng := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			for _, t := range types {
				main, _, _ := strings.Cut(t, "/")
				if mt == "*/*" || mt == main+"/*" || mt == t {
					return true
				}
			}
		}
	}
	return false
}

// openAPI serves GET /api/openapi.json: the document, byte for byte.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	// A failed write means the client went away; there is nobody left to tell.
	_, _ = w.Write(openAPIDocument)
	return nil
}
