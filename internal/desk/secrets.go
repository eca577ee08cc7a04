package desk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// sealer encrypts TOTP secrets at rest with AES-256-GCM under a key derived from the server
// secret; the account id is the additional data, so a sealed secret copied to another
// operator's row does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) sealer {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("desk: " + err.Error()) // the key is always 32 bytes (kilt.DeriveKey)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("desk: " + err.Error())
	}
	return sealer{aead: aead}
}

func accountAD(accountID int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("totp/"), uint64(accountID))
}

// seal returns nonce ‖ ciphertext.
func (s sealer) seal(accountID int64, plain string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), accountAD(accountID)), nil
}

func (s sealer) open(accountID int64, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("desk: sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], accountAD(accountID))
	if err != nil {
		return "", errors.New("desk: sealed secret does not open (wrong server secret?)")
	}
	return string(plain), nil
}

// TOTP parameters: RFC 6238, SHA-1, 6 digits, 30 s steps, ±1 step.
const (
	totpPeriod = 30
	totpSkew   = 1
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// newTOTPKey makes a fresh 160-bit secret; it returns the base32 secret and the otpauth URI
// an authenticator app reads from the QR code.
func newTOTPKey(issuer, accountName string) (secret, uri string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: accountName, Period: totpPeriod,
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// matchStep returns the time step (within ±1 of now) whose code is code and which is later
// than last, or ok=false. Comparing in constant time keeps timing from telling digits.
func matchStep(secret, code string, now time.Time, last int64) (step int64, ok bool) {
	cur := now.Unix() / totpPeriod
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > last {
			return s, true
		}
	}
	return 0, false
}

// CodeAt is the TOTP code of secret at t (tests and the enrolment page's own check use it).
func CodeAt(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts)
}

// slipAlphabet has no look-alike characters: no 0/O, 1/I/L, nor U/V (29 symbols; a 12
// character slip code carries 58 bits).
const slipAlphabet = "ABCDEFGHJKMNPQRSTWXYZ23456789"

// randomCode returns n symbols uniform over slipAlphabet.
func randomCode(n int) (string, error) {
	// Rejection sampling: bytes ≥ 232 (= 8·29) are drawn again, so no symbol is favoured.
	const limit = 256 - 256%len(slipAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, slipAlphabet[int(b)%len(slipAlphabet)])
			}
		}
	}
	return string(out), nil
}

// normalizeCode uppercases a code as typed and drops spaces and dashes; it reports false
// when what is left is not n symbols of the alphabet.
func normalizeCode(raw string, n int) (string, bool) {
	if len(raw) > 4*n {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(raw) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r < 128 && strings.IndexByte(slipAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	s := b.String()
	return s, len(s) == n
}

// group spells a code in groups of size separated by dashes, for reading aloud and typing.
func group(code string, size int) string {
	var parts []string
	for len(code) > size {
		parts = append(parts, code[:size])
		code = code[size:]
	}
	return strings.Join(append(parts, code), "-")
}

// mac is HMAC-SHA256 of the parts under key, separated so that no two part lists collide.
func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// otpauthURI is the Key URI an authenticator app reads (the format newTOTPKey's URI has).
func otpauthURI(issuer, accountName, secret string) string {
	k, err := otp.NewKeyFromURL((&url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + accountName,
		RawQuery: url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}.Encode()}).String())
	if err != nil {
		return ""
	}
	return k.URL()
}
