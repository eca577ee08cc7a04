package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"kilt/internal/api"
	"kilt/internal/kilttest"
)

// The OpenAPI tests hold openapi.json to the handlers: the document is well formed, it
// documents every route and every documented operation is served, and real responses —
// driven through a whole Kilt — have a documented status and a body valid against the
// documented schema.

// openAPIDoc is the parsed document.
type openAPIDoc struct {
	root map[string]any
	ops  map[string]*docOperation // by operationId
}

// docOperation is one operation of the document, its references resolved.
type docOperation struct {
	ID, Method, Path string // Path as the document writes it: /api/v1/registrations/{id}/verify
	Summary          string
	Request          any // the request body's JSON schema; nil when it takes none
	Responses        map[int]docResponse
	Secured          bool
	PathParams       []string
}

// docResponse is one documented response of an operation.
type docResponse struct {
	Schema  any            // the JSON body's schema; nil: no body
	Headers map[string]any // header name → its header object
}

var docMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// decodeJSON decodes exactly one JSON value, numbers kept as json.Number so that integers
// and numbers can be told apart.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func loadOpenAPI(t testing.TB) *openAPIDoc {
	t.Helper()
	v, err := decodeJSON(api.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("openapi.json is not an object")
	}
	d := &openAPIDoc{root: root, ops: map[string]*docOperation{}}
	paths, _ := root["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range docMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			op, err := d.operation(strings.ToUpper(m), path, raw)
			if err != nil {
				t.Fatalf("openapi.json: %s %s: %v", strings.ToUpper(m), path, err)
			}
			if _, dup := d.ops[op.ID]; dup {
				t.Fatalf("openapi.json: operationId %q is used twice", op.ID)
			}
			d.ops[op.ID] = op
		}
	}
	return d
}

// operation reads one operation object.
func (d *openAPIDoc) operation(method, path string, raw any) (*docOperation, error) {
	o, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("the operation is not an object")
	}
	op := &docOperation{Method: method, Path: path, Responses: map[int]docResponse{}}
	op.ID, _ = o["operationId"].(string)
	op.Summary, _ = o["summary"].(string)
	if sec, ok := o["security"].([]any); ok && len(sec) > 0 {
		op.Secured = true
	}
	params, _ := o["parameters"].([]any)
	for _, p := range params {
		p, err := d.deref(p)
		if err != nil {
			return nil, err
		}
		if pm, _ := p.(map[string]any); pm["in"] == "path" {
			name, _ := pm["name"].(string)
			op.PathParams = append(op.PathParams, name)
		}
	}
	if rb, ok := o["requestBody"]; ok {
		rb, err := d.deref(rb)
		if err != nil {
			return nil, err
		}
		op.Request = jsonSchemaOf(rb)
		if op.Request == nil {
			return nil, errors.New("the request body has no application/json schema")
		}
	}
	responses, _ := o["responses"].(map[string]any)
	for status, r := range responses {
		code, err := strconv.Atoi(status)
		if err != nil || code < 100 || code > 599 {
			return nil, fmt.Errorf("response %q: only explicit status codes are used", status)
		}
		r, err := d.deref(r)
		if err != nil {
			return nil, err
		}
		rm, _ := r.(map[string]any)
		resp := docResponse{Schema: jsonSchemaOf(rm), Headers: map[string]any{}}
		headers, _ := rm["headers"].(map[string]any)
		for name, h := range headers {
			if resp.Headers[name], err = d.deref(h); err != nil {
				return nil, err
			}
		}
		op.Responses[code] = resp
	}
	return op, nil
}

// jsonSchemaOf returns the application/json schema of a request body or response object.
func jsonSchemaOf(v any) any {
	m, _ := v.(map[string]any)
	content, _ := m["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	return media["schema"]
}

// resolve returns what a local reference ("#/components/schemas/Account") points to.
func (d *openAPIDoc) resolve(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local to the document", ref)
	}
	var cur any = d.root
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reference %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("reference %q does not resolve", ref)
		}
	}
	return cur, nil
}

// deref follows v's $ref, if it has one, until it reaches an object without.
func (d *openAPIDoc) deref(v any) (any, error) {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v, nil
		}
		var err error
		if v, err = d.resolve(ref); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("reference chain too long")
}

// annotations are schema keywords that do not constrain a value.
var annotations = map[string]bool{"description": true, "format": true, "title": true, "examples": true,
	"default": true, "deprecated": true}

// validate reports every way v breaks schema, each prefixed with where in v (at). It supports
// the keywords the document uses and reports any other as unsupported, so that the document
// cannot outgrow the test unnoticed.
func (d *openAPIDoc) validate(schema, v any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{at + ": the schema is not an object"}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	obj, isObj := v.(map[string]any)
	arr, isArr := v.([]any)
	str, isStr := v.(string)
	num, isNum := v.(json.Number)
	keywords := make([]string, 0, len(s))
	for k := range s {
		keywords = append(keywords, k)
	}
	slices.Sort(keywords)
	for _, kw := range keywords {
		arg := s[kw]
		switch kw {
		case "$ref":
			target, err := d.resolve(arg.(string))
			if err != nil {
				fail("%v", err)
				continue
			}
			errs = append(errs, d.validate(target, v, at)...)
		case "allOf":
			for _, sub := range arg.([]any) {
				errs = append(errs, d.validate(sub, v, at)...)
			}
		case "anyOf", "oneOf":
			var passed int
			var why []string
			for _, sub := range arg.([]any) {
				e := d.validate(sub, v, at)
				if len(e) == 0 {
					passed++
				}
				why = append(why, strings.Join(e, "; "))
			}
			if passed == 0 || kw == "oneOf" && passed > 1 {
				fail("matches %d of the %s schemas (%s)", passed, kw, strings.Join(why, " | "))
			}
		case "type":
			types, ok := arg.([]any)
			if !ok {
				types = []any{arg}
			}
			if !slices.ContainsFunc(types, func(t any) bool { return hasType(v, t.(string)) }) {
				fail("got %s, want %v", jsonType(v), arg)
			}
		case "enum":
			if !slices.ContainsFunc(arg.([]any), func(e any) bool { return jsonEqual(e, v) }) {
				fail("got %s, want one of %s", canonical(v), canonical(arg))
			}
		case "const":
			if !jsonEqual(arg, v) {
				fail("got %s, want %s", canonical(v), canonical(arg))
			}
		case "properties":
			if !isObj {
				continue
			}
			props := arg.(map[string]any)
			for name, sub := range props {
				if pv, ok := obj[name]; ok {
					errs = append(errs, d.validate(sub, pv, at+"."+name)...)
				}
			}
		case "required":
			if !isObj {
				continue
			}
			for _, name := range arg.([]any) {
				if _, ok := obj[name.(string)]; !ok {
					fail("%q is missing", name)
				}
			}
		case "additionalProperties":
			if !isObj {
				continue
			}
			props, _ := s["properties"].(map[string]any)
			names := make([]string, 0, len(obj))
			for name := range obj {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				if _, known := props[name]; known {
					continue
				}
				if arg == false {
					fail("%q is not documented", name)
				} else if arg != true {
					errs = append(errs, d.validate(arg, obj[name], at+"."+name)...)
				}
			}
		case "items":
			for i, item := range arr {
				errs = append(errs, d.validate(arg, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		case "minItems":
			if n := mustInt(arg); isArr && len(arr) < n {
				fail("%d items, want at least %d", len(arr), n)
			}
		case "minLength", "maxLength":
			if !isStr {
				continue
			}
			n, want := utf8.RuneCountInString(str), mustInt(arg)
			if kw == "minLength" && n < want || kw == "maxLength" && n > want {
				fail("%d characters, %s %d", n, kw, want)
			}
		case "pattern":
			if isStr && !regexp.MustCompile(arg.(string)).MatchString(str) {
				fail("%q does not match %s", str, arg)
			}
		case "minimum", "maximum":
			if !isNum {
				continue
			}
			got, _ := num.Float64()
			want, _ := arg.(json.Number).Float64()
			if kw == "minimum" && got < want || kw == "maximum" && got > want {
				fail("%s, %s %s", num, kw, arg)
			}
		default:
			if !annotations[kw] {
				fail("schema keyword %q is not supported by this test's validator", kw)
			}
		}
	}
	return errs
}

// schemaKeywords are the keywords validate understands.
var schemaKeywords = map[string]bool{"$ref": true, "allOf": true, "anyOf": true, "oneOf": true, "type": true,
	"enum": true, "const": true, "properties": true, "required": true, "additionalProperties": true,
	"items": true, "minItems": true, "minLength": true, "maxLength": true, "pattern": true, "minimum": true,
	"maximum": true}

func mustInt(v any) int {
	n, err := strconv.Atoi(string(v.(json.Number)))
	if err != nil {
		panic(err)
	}
	return n
}

func hasType(v any, t string) bool {
	switch t {
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	case "number":
		_, ok := v.(json.Number)
		return ok
	}
	return jsonType(v) == t
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func jsonEqual(a, b any) bool { return canonical(a) == canonical(b) }

// short is a response body cut for a failure message.
func short(body []byte) string {
	if len(body) > 300 {
		return string(body[:300]) + "…"
	}
	return string(body)
}

// matchPath reports whether a request path fits a documented path, whose {name} segments
// stand for any one non-empty segment.
func matchPath(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, seg := range ts {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if ps[i] == "" {
				return false
			}
		} else if seg != ps[i] {
			return false
		}
	}
	return true
}

// TestOpenAPIDocument checks the document itself: its version, that every reference
// resolves, that every operation is named and answers, that every request body refuses
// unknown fields as the server does, and that the schemas use only what the validator of
// these tests understands.
func TestOpenAPIDocument(t *testing.T) {
	d := loadOpenAPI(t)
	if v, _ := d.root["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi: got %q, want 3.1.x", v)
	}
	if servers, _ := d.root["servers"].([]any); len(servers) != 1 || canonical(servers[0]) != `{"url":"/"}` {
		t.Errorf("servers: got %s, want the one server /", canonical(d.root["servers"]))
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := d.resolve(ref); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, x := range v {
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(d.root, "#")
	forEachSchema(d.root, "#", func(s map[string]any, at string) {
		for kw := range s {
			if !schemaKeywords[kw] && !annotations[kw] {
				t.Errorf("%s: schema keyword %q is not supported by this test's validator", at, kw)
			}
		}
	})
	components, _ := d.root["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	if len(d.ops) == 0 {
		t.Fatal("the document has no operations")
	}
	for _, op := range sortedOps(d) {
		name := op.Method + " " + op.Path
		if op.ID == "" || op.Summary == "" {
			t.Errorf("%s: operationId %q, summary %q; want both", name, op.ID, op.Summary)
		}
		var ok2xx, has4xx bool
		for status, resp := range op.Responses {
			ok2xx = ok2xx || status/100 == 2
			has4xx = has4xx || status/100 == 4
			if status >= 400 && resp.Schema == nil {
				t.Errorf("%s %d: an error response without a JSON schema", name, status)
			}
			if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
				h, _ := resp.Headers["Retry-After"].(map[string]any)
				if h["required"] != true {
					t.Errorf("%s %d: Retry-After is not a required header", name, status)
				}
			}
		}
		if !ok2xx {
			t.Errorf("%s: no 2xx response", name)
		}
		// An operation that reads no input (no body, no path parameter, no session) has no
		// 4xx to give: GET /password-policy and the document itself.
		if takesInput := op.Request != nil || len(op.PathParams) > 0 || op.Secured; takesInput && !has4xx {
			t.Errorf("%s: no 4xx response", name)
		}
		if op.Request != nil && !closedSchema(d, op.Request) {
			t.Errorf("%s: the request body does not refuse unknown fields (additionalProperties: false)", name)
		}
		var inPath []string
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(op.Path, -1) {
			inPath = append(inPath, m[1])
		}
		if !slices.Equal(inPath, op.PathParams) {
			t.Errorf("%s: path parameters %v, declared %v", name, inPath, op.PathParams)
		}
		opRaw, _ := d.resolve("#/paths/" + strings.ReplaceAll(op.Path, "/", "~1") + "/" + strings.ToLower(op.Method))
		sec, _ := opRaw.(map[string]any)["security"].([]any)
		for _, req := range sec {
			for scheme := range req.(map[string]any) {
				if _, ok := schemes[scheme]; !ok {
					t.Errorf("%s: security scheme %q is not declared", name, scheme)
				}
			}
		}
	}
}

// forEachSchema calls fn on every schema of the document and every schema inside one.
func forEachSchema(v any, at string, fn func(s map[string]any, at string)) {
	var inSchema func(s any, at string)
	inSchema = func(s any, at string) {
		m, ok := s.(map[string]any)
		if !ok {
			return
		}
		fn(m, at)
		if props, ok := m["properties"].(map[string]any); ok {
			for k, p := range props {
				inSchema(p, at+"/properties/"+k)
			}
		}
		for _, k := range []string{"items", "additionalProperties"} {
			inSchema(m[k], at+"/"+k)
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			subs, _ := m[k].([]any)
			for i, sub := range subs {
				inSchema(sub, fmt.Sprintf("%s/%s/%d", at, k, i))
			}
		}
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch {
			case k == "schema":
				inSchema(x, at+"/schema")
			case k == "schemas" && at == "#/components":
				for name, s := range x.(map[string]any) {
					inSchema(s, at+"/schemas/"+name)
				}
			default:
				forEachSchema(x, at+"/"+k, fn)
			}
		}
	case []any:
		for i, x := range v {
			forEachSchema(x, fmt.Sprintf("%s/%d", at, i), fn)
		}
	}
}

// closedSchema reports whether a request schema refuses unknown fields: an object with
// additionalProperties false, or a choice of such objects.
func closedSchema(d *openAPIDoc, s any) bool {
	s, err := d.deref(s)
	if err != nil {
		return false
	}
	m, _ := s.(map[string]any)
	for _, k := range []string{"oneOf", "anyOf"} {
		if subs, ok := m[k].([]any); ok {
			return !slices.ContainsFunc(subs, func(sub any) bool { return !closedSchema(d, sub) })
		}
	}
	return m["type"] == "object" && m["additionalProperties"] == false
}

func sortedOps(d *openAPIDoc) []*docOperation {
	ops := make([]*docOperation, 0, len(d.ops))
	for _, op := range d.ops {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b *docOperation) int { return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method) })
	return ops
}

// TestOpenAPIRoutes: every route the API mounts is documented, and every documented
// operation is mounted.
func TestOpenAPIRoutes(t *testing.T) {
	d := loadOpenAPI(t)
	documented := map[string]bool{}
	for _, op := range d.ops {
		documented[op.Method+" "+op.Path] = true
	}
	// The mux's {name...} and {$} are the document's {name} and nothing.
	muxWildcard := regexp.MustCompile(`\{([^}.]+)\.\.\.\}`)
	served := map[string]bool{}
	for _, r := range api.RouteList() {
		p := strings.TrimSuffix(muxWildcard.ReplaceAllString(r.Pattern, "{$1}"), "{$}")
		served[r.Method+" "+p] = true
	}
	for route := range served {
		if !documented[route] {
			t.Errorf("%s is served but not documented in openapi.json", route)
		}
	}
	for route := range documented {
		if !served[route] {
			t.Errorf("%s is documented in openapi.json but not served (not in api.RouteList)", route)
		}
	}
}

// openAPIChecker drives requests through a running Kilt and checks each response against
// the document, recording which documented responses the scenarios produced.
type openAPIChecker struct {
	doc  *openAPIDoc
	mu   sync.Mutex
	seen map[string]map[int]bool // operationId → statuses produced
}

// docEnv is a running Kilt whose calls are checked against the document.
type docEnv struct {
	*kilttest.Env
	c *openAPIChecker
}

func (c *openAPIChecker) start(t *testing.T, env map[string]string) *docEnv {
	t.Helper()
	return &docEnv{Env: kilttest.Start(t, "sqlite", env), c: c}
}

// call sends a request for the operation and checks that the status is want and that the
// response is as documented. A body that is not a string or []byte must itself follow the
// documented request schema (a string is sent as is: the malformed requests).
func (e *docEnv) call(t *testing.T, want int, opID, path string, body any, headers ...string) *kilttest.Response {
	t.Helper()
	r := e.send(t, opID, path, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s: got %d %s, want %d", opID, path, r.Status, short(r.Body), want)
	}
	return r
}

// send is call without the expected status.
func (e *docEnv) send(t *testing.T, opID, path string, body any, headers ...string) *kilttest.Response {
	t.Helper()
	op, ok := e.c.doc.ops[opID]
	if !ok {
		t.Fatalf("operation %q is not documented", opID)
	}
	bare, _, _ := strings.Cut(path, "?")
	if !matchPath(op.Path, bare) {
		t.Fatalf("%s: path %q does not fit %s", opID, path, op.Path)
	}
	switch body.(type) {
	case nil, string, []byte:
	default:
		if op.Request == nil {
			t.Fatalf("%s: documented without a request body", opID)
		}
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := decodeJSON(data)
		for _, msg := range e.c.doc.validate(op.Request, v, "request") {
			t.Errorf("%s: the test's request breaks the documented schema: %s", opID, msg)
		}
	}
	r := e.Do(t, op.Method, path, body, headers...)
	e.c.check(t, op, r)
	return r
}

// check checks a response against the operation's documented responses.
func (c *openAPIChecker) check(t *testing.T, op *docOperation, r *kilttest.Response) {
	t.Helper()
	resp, ok := op.Responses[r.Status]
	if !ok {
		documented := make([]int, 0, len(op.Responses))
		for s := range op.Responses {
			documented = append(documented, s)
		}
		slices.Sort(documented)
		t.Errorf("%s: status %d is not documented (documented: %v); body %s", op.ID, r.Status, documented, short(r.Body))
		return
	}
	c.mu.Lock()
	if c.seen[op.ID] == nil {
		c.seen[op.ID] = map[int]bool{}
	}
	c.seen[op.ID][r.Status] = true
	c.mu.Unlock()
	for name, h := range resp.Headers {
		hm, _ := h.(map[string]any)
		got := r.Header.Get(name)
		if got == "" {
			if hm["required"] == true {
				t.Errorf("%s %d: header %s is missing", op.ID, r.Status, name)
			}
			continue
		}
		var v any = got
		if schema, _ := hm["schema"].(map[string]any); schema["type"] == "integer" {
			v = json.Number(got)
			if _, err := strconv.Atoi(got); err != nil {
				t.Errorf("%s %d: header %s is %q, want an integer", op.ID, r.Status, name, got)
				continue
			}
		}
		for _, msg := range c.doc.validate(hm["schema"], v, name) {
			t.Errorf("%s %d: header: %s", op.ID, r.Status, msg)
		}
	}
	if resp.Schema == nil {
		if len(r.Body) != 0 {
			t.Errorf("%s %d: documented without a body, got %q", op.ID, r.Status, r.Body)
		}
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("%s %d: Content-Type %q, want application/json", op.ID, r.Status, r.Header.Get("Content-Type"))
	}
	v, err := decodeJSON(r.Body)
	if err != nil {
		t.Errorf("%s %d: the body is not JSON (%v): %q", op.ID, r.Status, err, r.Body)
		return
	}
	for _, msg := range c.doc.validate(resp.Schema, v, "body") {
		t.Errorf("%s %d: the response breaks the documented schema: %s\n%s", op.ID, r.Status, msg, short(r.Body))
	}
}

// openAPIUnproduced are documented responses no scenario produces, each with the reason.
var openAPIUnproduced = map[int]string{
	http.StatusInternalServerError: "only an unexpected failure gives it",
}

// TestOpenAPIResponses drives every operation through a whole Kilt, to its success and to
// every documented error, and checks each response against the document: its status is
// documented for the operation, its required headers are there, its body is valid against
// the documented schema. At the end, every documented response must have been produced.
func TestOpenAPIResponses(t *testing.T) {
	c := &openAPIChecker{doc: loadOpenAPI(t), seen: map[string]map[int]bool{}}
	for _, sc := range []struct {
		name string
		env  map[string]string
		run  func(t *testing.T, e *docEnv)
	}{
		{"every call", nil, docEveryCall},
		{"sessions", nil, docSessions},
		{"password", nil, docPassword},
		{"recovery by e-mail", nil, docRecoveryEmail},
		{"recovery by phone", nil, docRecoveryPhone},
		{"recovery at a service centre", nil, docRecoveryDesk},
		{"registration by e-mail", nil, docRegistrationEmail},
		{"registration by phone", nil, docRegistrationPhone},
		{"registration codes paused", nil, docRegistrationCodesPaused},
		{"channels and freeze", nil, docChannels},
		// One hashing worker that callers wait for 50 ms at most: the requests of the
		// scenario, one at a time, never wait; with the worker held, they get 503.
		{"busy", map[string]string{"KILT_HASH_WORKERS": "1", "KILT_HASH_WAIT": "50ms"}, docBusy},
		{"not acceptable", nil, docNotAcceptable},
		{"sessions list, export, deletion", nil, docLifecycle},
		{"deletion when busy", map[string]string{"KILT_HASH_WORKERS": "1", "KILT_HASH_WAIT": "50ms"}, docLifecycleBusy},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, c.start(t, sc.env)) })
	}
	for _, op := range sortedOps(c.doc) {
		for status := range op.Responses {
			if _, ok := openAPIUnproduced[status]; !ok && !c.seen[op.ID][status] {
				t.Errorf("%s (%s %s): no scenario produced the documented %d", op.ID, op.Method, op.Path, status)
			}
		}
	}
}

// docPathOf is the operation's path with every parameter set to value.
func docPathOf(op *docOperation, value string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.Path, value)
}

// docEveryCall: the answers every operation gives alike — 401 without a session for those
// that need one, 403 to a cross-origin state change — and the document itself.
func docEveryCall(t *testing.T, e *docEnv) {
	for _, op := range sortedOps(e.c.doc) {
		t.Run(op.ID, func(t *testing.T) {
			path := docPathOf(op, "x")
			if op.Secured {
				if r := e.call(t, http.StatusUnauthorized, op.ID, path, nil); r.ErrorCode() != "unauthorized" {
					t.Errorf("without a session: code %q, want unauthorized", r.ErrorCode())
				}
				e.call(t, http.StatusUnauthorized, op.ID, path, nil, bearer(strings.Repeat("A", 43))...)
			}
			if op.Method == "POST" || op.Method == "DELETE" {
				r := e.call(t, http.StatusForbidden, op.ID, path, `{}`, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
				if r.ErrorCode() != "cross_origin" {
					t.Errorf("cross-origin: code %q, want cross_origin", r.ErrorCode())
				}
			}
		})
	}
	for _, tt := range []struct{ query, acceptLanguage, want string }{
		{"", "", "kk"}, {"?lang=ru", "", "ru"}, {"", "en-GB,en;q=0.8", "en"}, {"?lang=xx", "", "kk"},
	} {
		var headers []string
		if tt.acceptLanguage != "" {
			headers = []string{"Accept-Language", tt.acceptLanguage}
		}
		var p struct {
			Lang string `json:"lang"`
		}
		e.call(t, http.StatusOK, "passwordPolicy", "/api/v1/password-policy"+tt.query, nil, headers...).JSON(t, &p)
		if p.Lang != tt.want {
			t.Errorf("policy%s (Accept-Language %q): lang %q, want %q", tt.query, tt.acceptLanguage, p.Lang, tt.want)
		}
	}
	r := e.call(t, http.StatusOK, "openAPIDocument", "/api/openapi.json", nil)
	if !bytes.Equal(r.Body, api.OpenAPI()) {
		t.Errorf("GET /api/openapi.json does not serve the embedded document")
	}
}

func docLogin(t *testing.T, e *docEnv, want int, identifier, pw string) string {
	t.Helper()
	r := e.call(t, want, "createSession", "/api/v1/sessions", map[string]string{"identifier": identifier, "password": pw})
	var s struct {
		Token string `json:"token"`
	}
	if want == http.StatusCreated {
		r.JSON(t, &s)
	}
	return s.Token
}

func docSessions(t *testing.T, e *docEnv) {
	addAccount(t, e.Env, "a@example.kz", "+77011234567", goodPassword)
	tok := docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	docLogin(t, e, http.StatusCreated, "8 701 123 45 67", goodPassword)
	e.call(t, http.StatusOK, "currentSession", "/api/v1/sessions/current", nil, bearer(tok)...)
	e.call(t, http.StatusOK, "currentSession", "/api/v1/sessions/current?lang=ru", nil, "Cookie", "kilt="+tok)
	for _, body := range []string{
		`{"identifier":"a@example.kz","password":"x","admin":true}`,
		`{"identifier":"a@example.kz","password":""}`,
		`{"identifier":"not a phone","password":"x"}`,
		`{"identifier":"a@example.kz\r\nBcc: x@evil.kz","password":"x"}`,
	} {
		e.call(t, http.StatusBadRequest, "createSession", "/api/v1/sessions", body)
	}
	docLogin(t, e, http.StatusUnauthorized, "a@example.kz", "Wrong-Password-1")
	docLogin(t, e, http.StatusUnprocessableEntity, "a@example.kz", strings.Repeat("Aa1!", 40))
	for range 5 {
		docLogin(t, e, http.StatusUnauthorized, "ghost@example.kz", "Wrong-Password-1")
	}
	docLogin(t, e, http.StatusTooManyRequests, "ghost@example.kz", "Wrong-Password-1")

	b := addAccount(t, e.Env, "b@example.kz", "", goodPassword)
	locked := docLogin(t, e, http.StatusCreated, "b@example.kz", goodPassword)
	if err := e.App.Sessions.SetLocked(context.Background(), b.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	docLogin(t, e, http.StatusForbidden, "b@example.kz", goodPassword)
	e.call(t, http.StatusForbidden, "currentSession", "/api/v1/sessions/current", nil, bearer(locked)...)

	e.call(t, http.StatusNoContent, "deleteCurrentSession", "/api/v1/sessions/current", nil, bearer(tok)...)
	e.call(t, http.StatusUnauthorized, "deleteCurrentSession", "/api/v1/sessions/current", nil, bearer(tok)...)
	other := docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	e.call(t, http.StatusNoContent, "deleteAllSessions", "/api/v1/sessions", nil, "Cookie", "kilt="+other)
	e.call(t, http.StatusUnauthorized, "currentSession", "/api/v1/sessions/current", nil, bearer(other)...)
}

func docPassword(t *testing.T, e *docEnv) {
	b := addAccount(t, e.Env, "b@example.kz", "", goodPassword)
	locked := docLogin(t, e, http.StatusCreated, "b@example.kz", goodPassword)
	if err := e.App.Sessions.SetLocked(context.Background(), b.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	change := func(want int, tok, current, pw, confirm string) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "changePassword", "/api/v1/password",
			map[string]string{"current_password": current, "password": pw, "password_confirm": confirm}, bearer(tok)...)
	}
	if r := change(http.StatusForbidden, locked, goodPassword, newPassword, newPassword); r.ErrorCode() != "account_locked" {
		t.Errorf("locked: code %q", r.ErrorCode())
	}

	addAccount(t, e.Env, "a@example.kz", "", goodPassword)
	tok := docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	e.call(t, http.StatusBadRequest, "changePassword", "/api/v1/password",
		`{"current_password":"","password":"x","password_confirm":"x"}`, bearer(tok)...)
	e.call(t, http.StatusBadRequest, "changePassword", "/api/v1/password", `{"password":1}`, bearer(tok)...)
	change(http.StatusUnprocessableEntity, tok, goodPassword, "short", "shorter")
	change(http.StatusUnprocessableEntity, tok, goodPassword, goodPassword, goodPassword)
	change(http.StatusNoContent, tok, goodPassword, newPassword, newPassword)
	for range 5 {
		change(http.StatusForbidden, tok, "Not-The-One-1", goodPassword+"!", goodPassword+"!")
	}
	change(http.StatusTooManyRequests, tok, newPassword, goodPassword+"!", goodPassword+"!")
}

func docRecoveryEmail(t *testing.T, e *docEnv) {
	addAccount(t, e.Env, "r@example.kz", "+77021234567", goodPassword)
	email := func(want int, addr string) {
		t.Helper()
		e.call(t, want, "requestRecoveryEmail", "/api/v1/recovery/email", map[string]string{"email": addr})
	}
	email(http.StatusAccepted, "r@example.kz")
	email(http.StatusBadRequest, "not an address")
	e.call(t, http.StatusBadRequest, "requestRecoveryEmail", "/api/v1/recovery/email", `["r@example.kz"]`)
	e.Deliver(t)
	mails := e.MailTo(t, "r@example.kz")
	if len(mails) != 1 {
		t.Fatalf("got %d mails, want 1", len(mails))
	}
	tok := tokenOf(t, mails[0].Link("/recovery/reset?token="))
	reset := func(want int, pw string) {
		t.Helper()
		e.call(t, want, "resetPassword", "/api/v1/recovery/reset", resetBody(tok, pw))
	}
	reset(http.StatusUnprocessableEntity, "weak")
	e.call(t, http.StatusBadRequest, "resetPassword", "/api/v1/recovery/reset", `{"token":1}`)
	reset(http.StatusNoContent, newPassword)
	reset(http.StatusGone, "Another-Pass-99")
	for range 5 {
		email(http.StatusAccepted, "ghost@example.kz")
	}
	email(http.StatusTooManyRequests, "ghost@example.kz")
}

func docRecoveryPhone(t *testing.T, e *docEnv) {
	addAccount(t, e.Env, "", "+77011234567", goodPassword)
	phone := func(want int, number string) string {
		t.Helper()
		r := e.call(t, want, "requestRecoveryPhone", "/api/v1/recovery/phone", map[string]string{"phone": number})
		var f struct {
			FlowID string `json:"flow_id"`
		}
		if want == http.StatusAccepted {
			r.JSON(t, &f)
		}
		return f.FlowID
	}
	flow := phone(http.StatusAccepted, "8 701 123 45 67")
	phone(http.StatusBadRequest, "+7 701 ABC")
	e.Deliver(t)
	resend := func(want int, id string) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "resendRecoveryCode", "/api/v1/recovery/phone/resend", map[string]string{"flow_id": id})
	}
	resend(http.StatusTooManyRequests, flow)
	e.Clock.Advance(61 * time.Second)
	resend(http.StatusAccepted, flow)
	resend(http.StatusGone, strings.Repeat("A", 22))
	e.call(t, http.StatusBadRequest, "resendRecoveryCode", "/api/v1/recovery/phone/resend", `{"flow_id":1}`)
	e.Deliver(t)
	sms := e.SMSTo("+77011234567")
	if len(sms) != 2 {
		t.Fatalf("got %d SMS, want 2", len(sms))
	}
	code := kilttest.Code(sms[1])
	verify := func(want int, id, code string) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "verifyRecoveryCode", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": id, "code": code})
	}
	e.call(t, http.StatusBadRequest, "verifyRecoveryCode", "/api/v1/recovery/phone/verify", `{"flow_id":"`+flow+`","code":"12"}`)
	verify(http.StatusUnprocessableEntity, flow, fmt.Sprintf("%06d", (atoi(code)+1)%1000000))
	verify(http.StatusGone, strings.Repeat("A", 22), code)
	r := verify(http.StatusOK, flow, code)
	var v struct {
		ResetToken string `json:"reset_token"`
	}
	r.JSON(t, &v)
	e.call(t, http.StatusNoContent, "resetPassword", "/api/v1/recovery/reset", resetBody(v.ResetToken, newPassword))
	// An expired code: a fresh flow, out of the way of the limits of the flows above (and
	// the notice of the new password sent first, so that the next SMS is the code).
	e.Clock.Advance(time.Hour)
	e.Deliver(t)
	before := len(e.SMSTo("+77011234567"))
	flow = phone(http.StatusAccepted, "+77011234567")
	e.Deliver(t)
	if sms = e.SMSTo("+77011234567"); len(sms) != before+1 {
		t.Fatalf("got %d new SMS, want 1", len(sms)-before)
	}
	e.Clock.Advance(5 * time.Minute)
	if r := verify(http.StatusGone, flow, kilttest.Code(sms[before])); r.ErrorCode() != "code_expired" {
		t.Errorf("an expired code: code %q, want code_expired", r.ErrorCode())
	}
	for range 5 {
		phone(http.StatusAccepted, "+77017654321")
	}
	phone(http.StatusTooManyRequests, "+77017654321")
}

func registerBody(field, value, pw string) map[string]string {
	return map[string]string{field: value, "password": pw, "password_confirm": pw, "consent_version": kilttest.ConsentVersion}
}

func docRegister(t *testing.T, e *docEnv, field, value, wantChannel string) string {
	t.Helper()
	r := e.call(t, http.StatusAccepted, "createRegistration", "/api/v1/registrations", registerBody(field, value, goodPassword))
	var reg struct {
		ID      string `json:"registration_id"`
		Channel string `json:"channel"`
	}
	r.JSON(t, &reg)
	if reg.Channel != wantChannel {
		t.Errorf("channel: got %q, want %q", reg.Channel, wantChannel)
	}
	return reg.ID
}

func docRegistrationEmail(t *testing.T, e *docEnv) {
	docRegister(t, e, "email", "new@example.kz", "email")
	e.Deliver(t)
	mails := e.MailTo(t, "new@example.kz")
	if len(mails) != 1 {
		t.Fatalf("got %d mails, want 1", len(mails))
	}
	link := mails[0].Link("/register/confirm?token=")
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, "http://kilt.test/register/confirm?token=") || u.Query().Get("token") == "" {
		t.Fatalf("mail: link %q, want http://kilt.test/register/confirm?token=…", link)
	}
	tok := u.Query().Get("token")
	confirm := func(want int, tok string) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "confirmRegistration", "/api/v1/registrations/confirm", map[string]string{"token": tok, "password": goodPassword})
	}
	confirm(http.StatusGone, strings.Repeat("A", 43))
	if r := e.call(t, http.StatusUnprocessableEntity, "confirmRegistration", "/api/v1/registrations/confirm",
		map[string]string{"token": tok, "password": "Not-The-One-42"}); r.ErrorCode() != "password_incorrect" {
		t.Errorf("a wrong password: code %q, want password_incorrect", r.ErrorCode())
	}
	e.call(t, http.StatusBadRequest, "confirmRegistration", "/api/v1/registrations/confirm", `{"token":1}`)
	var created struct {
		Account struct {
			Email         string `json:"email"`
			EmailVerified bool   `json:"email_verified"`
		} `json:"account"`
	}
	confirm(http.StatusCreated, tok).JSON(t, &created)
	if created.Account.Email != "new@example.kz" || !created.Account.EmailVerified {
		t.Errorf("account: got %+v, want new@example.kz verified", created.Account)
	}
	if r := confirm(http.StatusGone, tok); r.ErrorCode() != "registration_invalid" {
		t.Errorf("the link again: code %q, want registration_invalid", r.ErrorCode())
	}
	docLogin(t, e, http.StatusCreated, "new@example.kz", goodPassword)

	register := func(want int, body any) {
		t.Helper()
		e.call(t, want, "createRegistration", "/api/v1/registrations", body)
	}
	register(http.StatusUnprocessableEntity, registerBody("email", "weak@example.kz", "weak"))
	// The personal-data consent: its text and version, and a registration without it or with
	// another version.
	var consent struct{ Version, Text string }
	e.call(t, http.StatusOK, "consent", "/api/v1/consent?lang=ru", nil).JSON(t, &consent)
	if consent.Version != kilttest.ConsentVersion || !strings.Contains(consent.Text, "персональных данных") {
		t.Errorf("consent: got %+v, want version %s and the Russian text", consent, kilttest.ConsentVersion)
	}
	for _, v := range []string{"", "0000"} {
		body := registerBody("email", "consent@example.kz", goodPassword)
		body["consent_version"] = v
		r := e.call(t, http.StatusUnprocessableEntity, "createRegistration", "/api/v1/registrations", body)
		var got struct {
			Error struct {
				Code    string
				Details struct {
					ConsentVersion string `json:"consent_version"`
				}
			}
		}
		r.JSON(t, &got)
		if got.Error.Code != "personal_data_consent_required" || got.Error.Details.ConsentVersion != kilttest.ConsentVersion {
			t.Errorf("consent_version %q: got %s, want 422 personal_data_consent_required with the current version", v, r.Body)
		}
	}
	register(http.StatusBadRequest, registerBody("email", "not an address", goodPassword))
	register(http.StatusBadRequest, `{"email":"x@example.kz","password":"`+goodPassword+`","password_confirm":"`+goodPassword+`","lang":"kk"}`)
	// Over a limit: of the identifier or of the client, whichever comes first.
	for i := range 30 {
		r := e.send(t, "createRegistration", "/api/v1/registrations", registerBody("email", "many@example.kz", goodPassword))
		if r.Status == http.StatusTooManyRequests {
			return
		}
		if r.Status != http.StatusAccepted {
			t.Fatalf("registration %d: got %d %s, want 202 or 429", i+1, r.Status, r.Body)
		}
	}
	t.Errorf("30 registrations of one address were all accepted, want 429 before")
}

// docRegistrationCodesPaused: ten wrong codes for a number, across a resend, pause its
// registrations' code checks, resends and new registrations (429 codes_paused).
func docRegistrationCodesPaused(t *testing.T, e *docEnv) {
	id := docRegister(t, e, "phone", "+7 702 555 43 21", "sms")
	path := "/api/v1/registrations/" + url.PathEscape(id) + "/verify"
	resend := "/api/v1/registrations/" + url.PathEscape(id) + "/resend"
	for round := range 2 {
		e.Deliver(t)
		sms := e.SMSTo("+77025554321")
		code := kilttest.Code(sms[len(sms)-1])
		for i := 1; i <= 5; i++ {
			e.call(t, http.StatusUnprocessableEntity, "verifyRegistration", path, map[string]string{"code": fmt.Sprintf("%06d", (atoi(code)+i)%1000000)})
		}
		e.Clock.Advance(61 * time.Second)
		if round == 0 {
			e.call(t, http.StatusAccepted, "resendRegistrationCode", resend, `{}`)
		}
	}
	for _, r := range []*kilttest.Response{
		e.call(t, http.StatusTooManyRequests, "verifyRegistration", path, map[string]string{"code": "123456"}),
		e.call(t, http.StatusTooManyRequests, "resendRegistrationCode", resend, `{}`),
		e.call(t, http.StatusTooManyRequests, "createRegistration", "/api/v1/registrations", registerBody("phone", "+7 702 555 43 21", goodPassword)),
	} {
		if r.ErrorCode() != "codes_paused" || r.Header.Get("Retry-After") == "" {
			t.Errorf("while paused: %d %s, want codes_paused with Retry-After", r.Status, r.Body)
		}
	}
}

func docRegistrationPhone(t *testing.T, e *docEnv) {
	id := docRegister(t, e, "phone", "+7 702 555 12 34", "sms")
	e.Deliver(t)
	sms := e.SMSTo("+77025551234")
	if len(sms) != 1 || kilttest.Code(sms[0]) == "" {
		t.Fatalf("SMS: got %q, want one with a code", sms)
	}
	// A new code only after the cool-down; then only the new one works.
	resend := "/api/v1/registrations/" + url.PathEscape(id) + "/resend"
	if r := e.call(t, http.StatusTooManyRequests, "resendRegistrationCode", resend, `{}`); r.Header.Get("Retry-After") != "60" {
		t.Errorf("a new code at once: Retry-After %q, want 60", r.Header.Get("Retry-After"))
	}
	e.call(t, http.StatusBadRequest, "resendRegistrationCode", resend, `{"code":"123456"}`)
	e.call(t, http.StatusGone, "resendRegistrationCode", "/api/v1/registrations/unknown/resend", `{}`)
	e.Clock.Advance(61 * time.Second)
	e.call(t, http.StatusAccepted, "resendRegistrationCode", resend, `{}`)
	e.Deliver(t)
	sms = e.SMSTo("+77025551234")
	if len(sms) != 2 || kilttest.Code(sms[1]) == "" {
		t.Fatalf("SMS after the resend: got %q, want a second with a code", sms)
	}
	code := kilttest.Code(sms[1])
	path := "/api/v1/registrations/" + url.PathEscape(id) + "/verify"
	verify := func(want int, path, code string) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "verifyRegistration", path, map[string]string{"code": code})
	}
	verify(http.StatusUnprocessableEntity, path, fmt.Sprintf("%06d", (atoi(code)+1)%1000000))
	e.call(t, http.StatusBadRequest, "verifyRegistration", path, `{"code":123456}`)
	e.call(t, http.StatusBadRequest, "verifyRegistration", path, `{"code":"12"}`)
	verify(http.StatusGone, "/api/v1/registrations/unknown/verify", code)
	var created struct {
		Account struct {
			Phone         string `json:"phone"`
			PhoneVerified bool   `json:"phone_verified"`
		} `json:"account"`
	}
	verify(http.StatusCreated, path, code).JSON(t, &created)
	if created.Account.Phone != "+77025551234" || !created.Account.PhoneVerified {
		t.Errorf("account: got %+v, want +77025551234 verified", created.Account)
	}
	verify(http.StatusGone, path, code)
	docLogin(t, e, http.StatusCreated, "87025551234", goodPassword)
	e.call(t, http.StatusBadRequest, "createRegistration", "/api/v1/registrations", registerBody("phone", "+7 727 250 00 00", goodPassword))
}

// docBusy: with every hashing worker held, the calls that hash answer 503 with Retry-After.
func docBusy(t *testing.T, e *docEnv) {
	addAccount(t, e.Env, "a@example.kz", "", goodPassword)
	tok := docLogin(t, e, http.StatusCreated, "a@example.kz", goodPassword)
	e.call(t, http.StatusAccepted, "requestRecoveryEmail", "/api/v1/recovery/email", map[string]string{"email": "a@example.kz"})
	e.Deliver(t)
	link := tokenOf(t, e.MailTo(t, "a@example.kz")[0].Link("/recovery/reset?token="))

	hold, held, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = e.App.Pool.Do(context.Background(), func() { close(held); <-hold })
	}()
	<-held
	defer func() { close(hold); <-done }()
	docLogin(t, e, http.StatusServiceUnavailable, "a@example.kz", goodPassword)
	e.call(t, http.StatusServiceUnavailable, "changePassword", "/api/v1/password",
		map[string]string{"current_password": goodPassword, "password": newPassword, "password_confirm": newPassword}, bearer(tok)...)
	e.call(t, http.StatusServiceUnavailable, "resetPassword", "/api/v1/recovery/reset", resetBody(link, newPassword))
	e.call(t, http.StatusServiceUnavailable, "createRegistration", "/api/v1/registrations", registerBody("email", "new@example.kz", goodPassword))
}

// docNotAcceptable: the calls that take no input refuse a client that admits no JSON with
// 406, and answer one that admits it in any spelling.
func docNotAcceptable(t *testing.T, e *docEnv) {
	for _, op := range []struct{ id, path string }{{"passwordPolicy", "/api/v1/password-policy"}, {"openAPIDocument", "/api/openapi.json"},
		{"consent", "/api/v1/consent"}} {
		for _, accept := range []string{"text/html", "application/yaml, text/*;q=0.5", "application/json;q=0"} {
			if r := e.call(t, http.StatusNotAcceptable, op.id, op.path, nil, "Accept", accept); r.ErrorCode() != "not_acceptable" {
				t.Errorf("%s, Accept %q: code %q, want not_acceptable", op.id, accept, r.ErrorCode())
			}
		}
		for _, accept := range []string{"application/json", "text/html, */*;q=0.8", "application/*", "APPLICATION/JSON; charset=utf-8"} {
			e.call(t, http.StatusOK, op.id, op.path, nil, "Accept", accept)
		}
	}
	e.call(t, http.StatusOK, "openAPIDocument", "/api/openapi.json", nil, "Accept", "application/vnd.oai.openapi+json;version=3.1")
	e.call(t, http.StatusNotAcceptable, "passwordPolicy", "/api/v1/password-policy", nil, "Accept", "application/vnd.oai.openapi+json")
}
