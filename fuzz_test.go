package kilt_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"kilt"
)

// The fuzz targets of this file run their seeds (f.Add and testdata/fuzz/<name>/) with every
// `go test`; `make fuzz` runs them for a bounded time. The shape checks are what stands
// between a client's bytes and a database lookup, so they are held to exact definitions.

// onlyBase64URL reports whether s is made only of the unpadded base64url alphabet.
func onlyBase64URL(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	})
}

func FuzzToken(f *testing.F) {
	token, _, err := kilt.NewToken()
	if err != nil {
		f.Fatal(err)
	}
	id, err := kilt.NewID()
	if err != nil {
		f.Fatal(err)
	}
	raw := bytes.Repeat([]byte{0xfb}, kilt.TokenBytes)
	f.Add(token, raw)
	f.Add(id, raw[:16])
	f.Add(strings.Repeat("A", 43), []byte{})
	f.Add(strings.Repeat("_", 42)+"=", []byte("short"))
	f.Add(strings.Repeat("+/", 21)+"A", raw)
	f.Add(strings.Repeat("A", 42)+"é", raw)
	f.Add(strings.Repeat("A", 43)+"\x00", raw)
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		if got, want := kilt.WellFormedToken(s), len(s) == 43 && onlyBase64URL(s); got != want {
			t.Errorf("WellFormedToken(%q): got %v, want %v: 43 characters of base64url", s, got, want)
		}
		if got, want := kilt.WellFormedID(s), len(s) == 22 && onlyBase64URL(s); got != want {
			t.Errorf("WellFormedID(%q): got %v, want %v: 22 characters of base64url", s, got, want)
		}
		if len(raw) >= kilt.TokenBytes {
			if tok := base64.RawURLEncoding.EncodeToString(raw[:kilt.TokenBytes]); !kilt.WellFormedToken(tok) {
				t.Errorf("WellFormedToken(%q), the encoding of %d bytes: got false, want true", tok, kilt.TokenBytes)
			}
		}
		if len(raw) >= 16 {
			if id := base64.RawURLEncoding.EncodeToString(raw[:16]); !kilt.WellFormedID(id) {
				t.Errorf("WellFormedID(%q), the encoding of 16 bytes: got false, want true", id)
			}
		}
		h := kilt.HashToken(s)
		if want := sha256.Sum256([]byte(s)); !bytes.Equal(h, want[:]) {
			t.Errorf("HashToken(%q): got %x, want its SHA-256 %x", s, h, want)
		}
		if k := kilt.KeyedHash(raw, s); len(k) != 32 || strings.Trim(k, "0123456789abcdef") != "" {
			t.Errorf("KeyedHash(%x, %q): got %q, want 32 lower-case hex digits", raw, s, k)
		}
		if k := kilt.DeriveKey(raw, s); len(k) != 32 {
			t.Errorf("DeriveKey(%x, %q): got %d bytes, want 32", raw, s, len(k))
		}
	})
}

func FuzzCode(f *testing.F) {
	code, err := kilt.NewCode()
	if err != nil {
		f.Fatal(err)
	}
	id, err := kilt.NewID()
	if err != nil {
		f.Fatal(err)
	}
	key := []byte("code key")
	f.Add(key, id, code, id, "000000")
	f.Add(key, "flow", "123456", "flow\x00123456", "123456")
	f.Add(key, "a\x00b", "000000", "a", "b\x00000000")
	f.Add([]byte{}, "", "12345", "", "1234567")
	f.Add(key, "", "１２３４５６", "", "12345\n")
	f.Add(key, "", "+12345", "", "-12345")
	f.Add(key, "", "12 456", "", "٠١٢٣٤٥")
	f.Fuzz(func(t *testing.T, key []byte, bound, code, bound2, code2 string) {
		if got, want := kilt.WellFormedCode(code), len(code) == 6 && strings.Trim(code, "0123456789") == ""; got != want {
			t.Errorf("WellFormedCode(%q): got %v, want %v: six ASCII digits", code, got, want)
		}
		mac := kilt.CodeMAC(key, bound, code)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(bound + "\x00" + code))
		if want := m.Sum(nil); !bytes.Equal(mac, want) {
			t.Fatalf("CodeMAC(%x, %q, %q): got %x, want HMAC-SHA256 of bound, NUL, code %x", key, bound, code, mac, want)
		}
		// A code is worthless for anything but what it was issued for. Codes reach kilt.CodeMAC
		// only once kilt.WellFormedCode holds, so that is where the binding must be exact.
		if kilt.WellFormedCode(code) && kilt.WellFormedCode(code2) {
			same := bound == bound2 && code == code2
			if got := bytes.Equal(mac, kilt.CodeMAC(key, bound2, code2)); got != same {
				t.Errorf("CodeMAC of (%q, %q) and (%q, %q): equal %v, want %v", bound, code, bound2, code2, got, same)
			}
		}
	})
}
