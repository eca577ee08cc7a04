package kilt

import "testing"

func BenchmarkNewToken(b *testing.B) {
	for b.Loop() {
		if _, _, err := NewToken(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWellFormedAndHashToken(b *testing.B) {
	tok, _, _ := NewToken()
	for b.Loop() {
		if !WellFormedToken(tok) {
			b.Fatal("not well formed")
		}
		_ = HashToken(tok)
	}
}

func BenchmarkNewCodeAndMAC(b *testing.B) {
	key := DeriveKey([]byte("secret-secret-secret-secret-secret"), "sms-code")
	for b.Loop() {
		code, err := NewCode()
		if err != nil {
			b.Fatal(err)
		}
		_ = CodeMAC(key, "flow-id-0123456789ab", code)
	}
}
