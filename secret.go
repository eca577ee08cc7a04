package kilt

import (
	"crypto/hmac"
	"crypto/sha256"
)

// DeriveKey derives an independent 32-byte key for one purpose from the server secret, so
// that the pepper of password history, the key of SMS codes and the key of rate-limit
// identifiers never share key material (HMAC-SHA256 as a PRF, label as the message).
func DeriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("kilt/v1/" + label))
	return m.Sum(nil)
}
