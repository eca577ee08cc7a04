package kilt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
)

// DeriveKey derives an independent 32-byte key for one purpose from the server secret, so
// that the pepper of password history, the key of SMS codes and the key of rate-limit
// identifiers never share key material (HMAC-SHA256 as a PRF, label as the message).
func DeriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("kilt/v1/" + label))
	return m.Sum(nil)
}

// KeyedHash returns a keyed hash of s (hex, 128 bits) for keys in tables that must not hold
// the identifiers people typed: rate-limit keys, throttle keys.
func KeyedHash(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// TokenBytes is the entropy of every token Kilt issues: sessions, links, reset tokens.
const TokenBytes = 32

// NewToken returns a fresh token (32 random bytes, base64url) and the hash the store keeps
// of it.
func NewToken() (string, []byte, error) {
	raw := make([]byte, TokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	t := base64.RawURLEncoding.EncodeToString(raw)
	return t, HashToken(t), nil
}

// HashToken is what the store keeps of a token: its SHA-256. A token has 256 bits of
// entropy, so a fast hash is enough — no dictionary can be run against it.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// WellFormedToken reports whether t has the shape of a token NewToken makes, so that
// garbage costs no database round trip.
func WellFormedToken(t string) bool {
	return len(t) == base64.RawURLEncoding.EncodedLen(TokenBytes) && base64URL(t)
}

// base64URL reports whether s is made of the base64url alphabet only and decodes. (The
// decoder alone is not enough: it skips CR and LF.)
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// NewCode returns 6 digits, uniform over 000000–999999 (crypto/rand's Int has no modulo
// bias).
func NewCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// WellFormedCode reports whether code is 6 ASCII digits.
func WellFormedCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// CodeMAC binds a code to what it was issued for (a flow, a registration) under key: the
// store holds no code, and a code is worthless anywhere else.
func CodeMAC(key []byte, bound, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(bound))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// NewID returns an unguessable identifier of 16 random bytes (base64url, 22 characters).
func NewID() (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// WellFormedID reports whether id has the shape NewID makes.
func WellFormedID(id string) bool { return len(id) == 22 && base64URL(id) }

// Truncate cuts s to at most n bytes at a rune boundary (for user agents and other
// client-given text kept in the database).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
