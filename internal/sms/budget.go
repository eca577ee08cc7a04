package sms

import (
	"context"
	"sync"
)

// Budget is the global daily SMS budget, shared by every instance of Kilt (the database
// holds the production one). Days are UTC dates, "2026-11-25".
type Budget interface {
	// Take reserves one SMS of day's budget of limit SMS and reports whether one was left.
	// Reserving must be atomic: two instances taking the last SMS at once get one each
	// only if two were left.
	Take(ctx context.Context, day string, limit int) (bool, error)
}

// BudgetRefunder is a Budget that can give back an SMS it reserved for day, for a message
// the gateway refused (nothing was sent, nothing billed). The Guard uses it when the Budget
// has it.
type BudgetRefunder interface {
	Refund(ctx context.Context, day string) error
}

// BudgetReporter is a Budget that can say how many SMS of day it has reserved. The Guard
// uses it for BudgetLeft when the Budget has it.
type BudgetReporter interface {
	Used(ctx context.Context, day string) (int, error)
}

// MemoryBudget is a Budget held in the process: for tests and for a single instance that
// accepts losing the day's count on restart. It keeps the count of the last day it was
// asked about only. The zero value is ready; it is safe for concurrent use.
type MemoryBudget struct {
	mu   sync.Mutex
	day  string
	used int
}

var (
	_ Budget         = (*MemoryBudget)(nil)
	_ BudgetRefunder = (*MemoryBudget)(nil)
	_ BudgetReporter = (*MemoryBudget)(nil)
)

// Take reserves one SMS of day's budget if fewer than limit are reserved.
func (b *MemoryBudget) Take(_ context.Context, day string, limit int) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.turn(day)
	if b.used >= limit {
		return false, nil
	}
	b.used++
	return true, nil
}

// Refund gives back one SMS of day's budget.
func (b *MemoryBudget) Refund(_ context.Context, day string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if day == b.day && b.used > 0 {
		b.used--
	}
	return nil
}

// Used reports how many SMS of day's budget are reserved.
func (b *MemoryBudget) Used(_ context.Context, day string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if day != b.day {
		return 0, nil
	}
	return b.used, nil
}

// turn starts counting day if it is not the day being counted.
func (b *MemoryBudget) turn(day string) {
	if day != b.day {
		b.day, b.used = day, 0
	}
}
