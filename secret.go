package kilt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
