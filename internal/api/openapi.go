package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
)

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
