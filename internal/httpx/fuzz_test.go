package httpx_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"kilt"
	"kilt/internal/httpx"
)

// The fuzz targets of this file run their seeds (f.Add and testdata/fuzz/<name>/) with every
// `go test`; `make fuzz` runs them for a bounded time.
//
// The shapes below are the request bodies of the JSON API (internal/api), written out again
// because the API's types are unexported there; internal/api's own fuzz target sends the same
// kind of input through the real handlers.
type (
	loginShape struct {
		Identifier string `json:"identifier"`
		Password   string `json:"password"`
	}
	changePasswordShape struct {
		CurrentPassword string `json:"current_password"`
		Password        string `json:"password"`
		PasswordConfirm string `json:"password_confirm"`
	}
	registerShape struct {
		Email           string `json:"email"`
		Phone           string `json:"phone"`
		Password        string `json:"password"`
		PasswordConfirm string `json:"password_confirm"`
	}
	emailShape struct {
		Email string `json:"email"`
	}
	phoneShape struct {
		Phone string `json:"phone"`
	}
	flowShape struct {
		FlowID string `json:"flow_id"`
	}
	verifyShape struct {
		FlowID string `json:"flow_id"`
		Code   string `json:"code"`
	}
	resetShape struct {
		Token           string `json:"token"`
		Password        string `json:"password"`
		PasswordConfirm string `json:"password_confirm"`
	}
	tokenShape struct {
		Token string `json:"token"`
	}
	codeShape struct {
		Code string `json:"code"`
	}
)

// fuzzBodies are the seeds shared by the targets of this file.
var fuzzBodies = []string{
	`{"identifier":"+7 (701) 123-45-67","password":"Құпия-Сөз-2024!"}`,
	`{"current_password":"Tulpar-Sunkar-77","password":"Сұңқар-Rider-7","password_confirm":"Сұңқар-Rider-7"}`,
	`{"email":"Aigerim.N@Mail.KZ","password":"Tulpar-Sunkar-77","password_confirm":"Tulpar-Sunkar-77"}`,
	`{"phone":"8 701 123 45 67"}`,
	`{"flow_id":"AAAAAAAAAAAAAAAAAAAAAA","code":"123456"}`,
	`{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"a","password_confirm":"b"}`,
	`{"email":"a@b.kz","email":"c@d.kz"}`,
	`{"\u0065mail":"a@b.kz","email":"c@d.kz"}`,
	`{"email":null,"phone":null}`,
	`{"email":["a@b.kz"]}`,
	`{"code":123456}`,
	`{"code":1e999999}`,
	`{"code":-0.0e-99999999999999999999}`,
	`{"email":{"email":{"email":{}}}}`,
	`{"unknown":1}`,
	`{"password":"a\u0000b\r\nc"}`,
	`{"password":"\ud800\udc00\ud800"}`,
	"{\"password\":\"\xff\xfe\"}",
	"\xef\xbb\xbf{\"email\":\"a@b.kz\"}",
	`{"email":"a@b.kz"} {"email":"c@d.kz"}`,
	`{"email":"a@b.kz"}]`,
	`{"email":"a@b.kz",}`,
	`[{"email":"a@b.kz"}]`,
	`"email"`,
	`null`,
	``,
	` { } `,
	`{"email":"` + strings.Repeat("🔑", 300) + `"}`,
	`{"email":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
}

func FuzzUnmarshal(f *testing.F) {
	for _, b := range fuzzBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkShape[loginShape](t, body)
		checkShape[changePasswordShape](t, body)
		checkShape[registerShape](t, body)
		checkShape[emailShape](t, body)
		checkShape[phoneShape](t, body)
		checkShape[flowShape](t, body)
		checkShape[verifyShape](t, body)
		checkShape[resetShape](t, body)
		checkShape[tokenShape](t, body)
		checkShape[codeShape](t, body)
	})
}

// checkShape asserts what httpx.Unmarshal promises for body decoded into a T.
func checkShape[T comparable](t *testing.T, body []byte) {
	t.Helper()
	var v T
	err := httpx.Unmarshal(body, &v)
	name := reflect.TypeFor[T]().Name()
	keys, object, dup := topLevelKeys(body)
	if err != nil {
		checkDecodeError(t, name, err, body, keys, jsonNames[T]())
		return
	}
	switch {
	case !utf8.Valid(body):
		t.Fatalf("%s: Unmarshal(%q) accepted invalid UTF-8", name, body)
	case !object:
		t.Fatalf("%s: Unmarshal(%q) accepted what is not one JSON object", name, body)
	case dup != "":
		t.Fatalf("%s: Unmarshal(%q) accepted the duplicated key %q", name, body, dup)
	}
	for i, k := range keys {
		for _, other := range keys[:i] {
			// encoding/json matches keys to fields without regard to case: two spellings of
			// one field are a duplicate that the last one would silently win.
			if strings.EqualFold(k, other) {
				t.Fatalf("%s: Unmarshal(%q) accepted %q and %q, which set the same field", name, body, other, k)
			}
		}
	}
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: encoding %+v: %v", name, v, err)
	}
	var again T
	if err := httpx.Unmarshal(enc, &again); err != nil || again != v {
		t.Fatalf("%s: Unmarshal(%q) = %+v, re-encoded as %s, decodes to %+v, %v; want the same value", name, body, v, enc, again, err)
	}
}

// The messages httpx.Unmarshal may give: fixed texts, or a quoted key or field name.
var (
	fixedMessages = map[string]bool{
		"body is not valid UTF-8":               true,
		"body is not valid JSON":                true,
		"body must be a JSON object":            true,
		"unexpected data after the JSON object": true,
		"body is not a valid JSON object":       true,
	}
	namedMessage = regexp.MustCompile(`^(?:field ("(?:[^"\\]|\\.)*") (?:appears more than once|must be a [a-z0-9]+)|unknown field ("(?:[^"\\]|\\.)*"))$`)
)

// checkDecodeError asserts that err is the malformed-request error and that its message
// names at most a key of the body or a field of the shape: it never echoes a value, which
// may be a password.
func checkDecodeError(t *testing.T, shape string, err error, body []byte, keys, fields []string) {
	t.Helper()
	e, ok := kilt.AsError(err)
	if !ok || e.Kind != kilt.KindInvalid || e.Code != httpx.CodeMalformed {
		t.Fatalf("%s: Unmarshal(%q): got %v, want a *kilt.Error of kind invalid, code %s", shape, body, err, httpx.CodeMalformed)
	}
	if fixedMessages[e.Message] {
		return
	}
	m := namedMessage.FindStringSubmatch(e.Message)
	if m == nil {
		t.Fatalf("%s: Unmarshal(%q): unexpected message %q", shape, body, e.Message)
	}
	quoted := m[1] + m[2]
	named, uerr := strconv.Unquote(quoted)
	if uerr != nil {
		t.Fatalf("%s: Unmarshal(%q): message %q names %s, which does not unquote: %v", shape, body, e.Message, quoted, uerr)
	}
	for _, k := range append(keys, fields...) {
		if named == k {
			return
		}
	}
	t.Fatalf("%s: Unmarshal(%q): message %q names %q, neither a key of the body nor a field", shape, body, e.Message, named)
}

// topLevelKeys returns the top-level keys of body in order, as far as body reads as a JSON
// object; whether all of it does (one object, nothing after it); and the first key that
// appears twice.
func topLevelKeys(body []byte) (keys []string, object bool, dup string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false, ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys, false, dup
		}
		k, _ := tok.(string)
		if seen[k] && dup == "" {
			dup = k
		}
		seen[k] = true
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys, false, dup
		}
	}
	if _, err := dec.Token(); err != nil {
		return keys, false, dup
	}
	_, err := dec.Token()
	return keys, err == io.EOF, dup
}

// jsonNames returns the JSON names of T's fields.
func jsonNames[T any]() []string {
	var names []string
	for f := range reflect.TypeFor[T]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

func FuzzDecodeJSON(f *testing.F) {
	for _, b := range fuzzBodies {
		f.Add("application/json", []byte(b), uint16(0))
	}
	f.Add("", []byte(`{"email":"a@b.kz"}`), uint16(0))
	f.Add("application/json; charset=utf-8", []byte(`{"email":"a@b.kz"}`), uint16(httpx.MaxBody-len(`{"email":"a@b.kz"}`)))
	f.Add("application/json", []byte(`{"email":"a@b.kz"}`), uint16(httpx.MaxBody-len(`{"email":"a@b.kz"}`)+1))
	f.Add("application/merge-patch+json", []byte(`{"phone":"87011234567"}`), uint16(10))
	f.Add("APPLICATION/JSON", []byte(`{"phone":"87011234567"}`), uint16(0))
	f.Add("text/plain", []byte(`{"email":"a@b.kz"}`), uint16(0))
	f.Add("application/x-www-form-urlencoded", []byte(`email=a%40b.kz`), uint16(0))
	f.Add("application/json; charset=", []byte(`{}`), uint16(0))
	f.Add("application/json\r\nX-Evil: 1", []byte(`{}`), uint16(0))
	f.Fuzz(func(t *testing.T, contentType string, body []byte, pad uint16) {
		// Trailing white space changes nothing but the size, so pad is how the fuzzer
		// reaches the size limit.
		padded := append(bytes.Clone(body), bytes.Repeat([]byte{' '}, int(pad))...)
		r := httptest.NewRequest("POST", "/api/v1/registrations", bytes.NewReader(padded))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		var got registerShape
		err := httpx.DecodeJSON(r, &got)
		if err != nil && (kilt.ErrorKind(err) != kilt.KindInvalid || kilt.ErrorCode(err) == "") {
			t.Fatalf("DecodeJSON(%q, %q): got %v, want kind invalid with a code", contentType, body, err)
		}
		if !jsonContentType(r.Header.Get("Content-Type")) {
			if kilt.ErrorCode(err) != httpx.CodeMalformed {
				t.Fatalf("DecodeJSON with Content-Type %q: got %v, want %s", contentType, err, httpx.CodeMalformed)
			}
			return
		}
		if len(padded) > httpx.MaxBody {
			if kilt.ErrorCode(err) != httpx.CodeTooLarge {
				t.Fatalf("DecodeJSON of %d bytes: got %v, want %s", len(padded), err, httpx.CodeTooLarge)
			}
			return
		}
		var want registerShape
		wantErr := httpx.Unmarshal(body, &want)
		if (err == nil) != (wantErr == nil) || got != want {
			t.Fatalf("DecodeJSON(%q) with %d spaces after it = %+v, %v; Unmarshal = %+v, %v; want the same",
				body, pad, got, err, want, wantErr)
		}
	})
}

// jsonContentType reports whether a Content-Type header is absent or names JSON.
func jsonContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
