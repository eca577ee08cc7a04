package sms

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMemoryBudgetConcurrentTakes(t *testing.T) {
	var b MemoryBudget
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			ok, err := b.Take(context.Background(), "2026-11-25", 50)
			if err != nil {
				t.Errorf("Take: %v", err)
			}
			if ok {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if got := granted.Load(); got != 50 {
		t.Errorf("got %d granted, want 50", got)
	}
}

func TestMemoryBudgetDays(t *testing.T) {
	ctx := context.Background()
	var b MemoryBudget
	steps := []struct {
		name string
		do   func() bool
		want bool
	}{
		{"first of day 1", func() bool { ok, _ := b.Take(ctx, "2026-11-25", 2); return ok }, true},
		{"second of day 1", func() bool { ok, _ := b.Take(ctx, "2026-11-25", 2); return ok }, true},
		{"third of day 1", func() bool { ok, _ := b.Take(ctx, "2026-11-25", 2); return ok }, false},
		{"refund on day 1", func() bool { return b.Refund(ctx, "2026-11-25") == nil }, true},
		{"third of day 1 after the refund", func() bool { ok, _ := b.Take(ctx, "2026-11-25", 2); return ok }, true},
		{"first of day 2", func() bool { ok, _ := b.Take(ctx, "2026-11-26", 2); return ok }, true},
		{"refund of day 1 on day 2 changes nothing", func() bool { return b.Refund(ctx, "2026-11-25") == nil }, true},
		{"second of day 2", func() bool { ok, _ := b.Take(ctx, "2026-11-26", 2); return ok }, true},
		{"third of day 2", func() bool { ok, _ := b.Take(ctx, "2026-11-26", 2); return ok }, false},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Errorf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
	if used, _ := b.Used(ctx, "2026-11-26"); used != 2 {
		t.Errorf("used on day 2: got %d, want 2", used)
	}
}
