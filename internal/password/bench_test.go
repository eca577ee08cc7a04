package password

import (
	"context"
	"testing"
)

// BenchmarkSimilarFullHistory measures the history check of a reset at the default cost: a
// new password against a full history of 6 entries (no match, the common case), kept in
// the legacy format (one computation per entry, as every reset paid before history keys)
// and keyed (one computation in all). Run both in one invocation: the machine is shared.
func BenchmarkSimilarFullHistory(b *testing.B) {
	h := NewHasher(DefaultParams(), NewPool(0, DefaultMaxWait))
	ctx := context.Background()
	pws := []string{"Kokzhal-1a", "Berkut-2b", "Zhuldyz-3c", "Bayterek-4d", "Altyn-5e", "Dombyra-6f"}
	var keyed, legacy []HistoryEntry
	for _, pw := range pws {
		e, err := h.NewHistoryEntry(ctx, testPepper, pw, keyed, testNow)
		if err != nil {
			b.Fatal(err)
		}
		keyed = DefaultPolicy().AddHistory(keyed, e)
		skeletonHash, err := h.hashBytes(ctx, skeletonSecret(testPepper, Skeleton(pw)))
		if err != nil {
			b.Fatal(err)
		}
		legacy = DefaultPolicy().AddHistory(legacy, HistoryEntry{PasswordHash: e.PasswordHash, SkeletonHash: skeletonHash})
	}
	for _, bc := range []struct {
		name    string
		history []HistoryEntry
	}{{"legacy", legacy}, {"keyed", keyed}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if similar, err := h.Similar(ctx, testPepper, "Tulpar-Sunkar-7", bc.history); err != nil || similar {
					b.Fatal(similar, err)
				}
			}
		})
	}
}
