package oidc

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"kilt"
)

// Signing algorithms.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// SigningKey is a usable key: its id, algorithm and private key.
type SigningKey struct {
	ID      string
	Alg     string
	Private crypto.Signer
}

// KeyCacheTTL is how long the active key, once read, signs without the database being asked
// again which key is active. After a rotation by another process (`kilt keys rotate`, another
// instance) this process signs with the retired key for at most KeyCacheTTL, and that key
// stays published for KeyGrace, much longer; a rotation through this service is seen at
// once. The published keys (PublicKeys) are always read from the database, so every
// instance publishes a new key as soon as any may sign with it.
const KeyCacheTTL = 30 * time.Second

// keyCache keeps opened keys by id: a key never changes once made, so the database is asked
// only which key is active, not to decrypt it again — and that only every KeyCacheTTL.
type keyCache struct {
	mu       sync.Mutex
	keys     map[string]*SigningKey
	active   *SigningKey
	activeAt time.Time
	// signatures counts the signatures made (CountSignature).
	signatures atomic.Uint64
}

// CountSignature is told of every signature made with the provider's keys (by the adapter
// that signs).
func (s *Service) CountSignature() { s.keys.signatures.Add(1) }

// Signatures reports how many signatures were made with the provider's keys since the
// service started: one a token response (its ID token), since access tokens are opaque.
func (s *Service) Signatures() uint64 { return s.keys.signatures.Load() }

func newKeyCache() *keyCache { return &keyCache{keys: map[string]*SigningKey{}} }

func (s *Service) open(k *Key) (*SigningKey, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if sk, ok := s.keys.keys[k.ID]; ok {
		return sk, nil
	}
	der, err := unseal(s.sealKey, k.Sealed, k.ID)
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s does not open under this server secret: %w", k.ID, err)
	}
	p, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s: %w", k.ID, err)
	}
	signer, ok := p.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("oidc: signing key %s is not a signer", k.ID)
	}
	sk := &SigningKey{ID: k.ID, Alg: k.Alg, Private: signer}
	s.keys.keys[k.ID] = sk
	return sk, nil
}

// seal encrypts plain with AES-256-GCM under key, the key's id as associated data (a sealed
// key cannot be moved to another row).
func seal(key, plain []byte, id string) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, []byte(id)), nil
}

func unseal(key, sealed []byte, id string) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed key too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(id))
}

func (s *Service) newKey(alg string) (*Key, error) {
	var priv any
	var err error
	switch alg {
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("oidc: unknown signing algorithm %q (want RS256 or ES256)", alg)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	id, err := kilt.NewID()
	if err != nil {
		return nil, err
	}
	sealed, err := seal(s.sealKey, der, id)
	if err != nil {
		return nil, err
	}
	return &Key{ID: id, Alg: alg, Sealed: sealed, CreatedAt: s.clock()}, nil
}

// EnsureKey makes the first signing key if there is none. Several instances starting
// together: one inserts, the others find its key.
func (s *Service) EnsureKey(ctx context.Context) error {
	_, err := s.activeKey(ctx)
	if !errors.Is(err, kilt.ErrNotFound) {
		return err
	}
	k, err := s.newKey(s.cfg.Alg)
	if err != nil {
		return err
	}
	err = s.store.InTx(ctx, func(tx Tx) error { return tx.InsertKey(ctx, k) })
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

// RotateKeys retires the active key and makes a new one (alg "" keeps the configured one).
// The retired key stays published for KeyGrace, so tokens it signed still verify.
func (s *Service) RotateKeys(ctx context.Context, alg string) (*Key, error) {
	if alg == "" {
		alg = s.cfg.Alg
	}
	k, err := s.newKey(alg)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.RetireActiveKey(ctx, k.CreatedAt); err != nil && !errors.Is(err, kilt.ErrNotFound) {
			return err
		}
		return tx.InsertKey(ctx, k)
	})
	s.keys.mu.Lock()
	s.keys.active = nil
	s.keys.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return k, nil
}

// SigningKey returns the active key, opened, making the first one if there is none yet. The
// key is read again after KeyCacheTTL.
func (s *Service) SigningKey(ctx context.Context) (*SigningKey, error) {
	now := s.clock()
	s.keys.mu.Lock()
	sk, at := s.keys.active, s.keys.activeAt
	s.keys.mu.Unlock()
	if sk != nil && now.Sub(at) < KeyCacheTTL && !now.Before(at) {
		return sk, nil
	}
	sk, err := s.readSigningKey(ctx)
	if err != nil {
		return nil, err
	}
	s.keys.mu.Lock()
	s.keys.active, s.keys.activeAt = sk, now
	s.keys.mu.Unlock()
	return sk, nil
}

func (s *Service) readSigningKey(ctx context.Context) (*SigningKey, error) {
	k, err := s.store.ReadActiveKey(ctx)
	if errors.Is(err, kilt.ErrNotFound) {
		if err := s.EnsureKey(ctx); err != nil {
			return nil, err
		}
		k, err = s.store.ReadActiveKey(ctx)
	}
	if err != nil {
		return nil, err
	}
	return s.open(k)
}

func (s *Service) activeKey(ctx context.Context) (*Key, error) {
	var k *Key
	err := s.store.InTx(ctx, func(tx Tx) (err error) { k, err = tx.ActiveKey(ctx); return err })
	return k, err
}

// PublicKeys returns the keys whose public halves are published: the active one and those
// retired less than KeyGrace ago.
func (s *Service) PublicKeys(ctx context.Context) ([]*SigningKey, error) {
	return s.keysSince(ctx, s.clock().Add(-KeyGrace))
}

// HintKeys returns the keys an id_token_hint may be signed with: the active one and those
// retired less than the session lifetime (plus hintSkew) ago. An ID token of a session
// still live was signed after the session began, so with one of these; RP-Initiated Logout
// 1.0 §2 asks the provider to accept the ID tokens of current and recent sessions, expired
// or not, so an application can still end the citizen's session with the hint it kept after
// `kilt keys rotate`, once the retired key has left the JWKS (KeyGrace). A hint only names
// the session to end (and the client); the JWKS, which relying parties trust for sign-ins,
// keeps the shorter publication.
func (s *Service) HintKeys(ctx context.Context) ([]*SigningKey, error) {
	return s.keysSince(ctx, s.clock().Add(-s.cfg.SessionLifetime-hintSkew))
}

// keysSince returns the active key and those retired after since, opened.
func (s *Service) keysSince(ctx context.Context, since time.Time) ([]*SigningKey, error) {
	if _, err := s.SigningKey(ctx); err != nil { // the first key, if none yet
		return nil, err
	}
	var ks []Key
	err := s.store.InTx(ctx, func(tx Tx) (err error) { ks, err = tx.Keys(ctx, since); return err })
	if err != nil {
		return nil, err
	}
	out := make([]*SigningKey, 0, len(ks))
	for i := range ks {
		sk, err := s.open(&ks[i])
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}
