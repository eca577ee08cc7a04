package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	one20 := make([]int, 20)
	for i := range one20 {
		one20[i] = i + 1
	}
	one100 := make([]int, 100)
	for i := range one100 {
		one100[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"median of odd count", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even count is the lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p95 of 1..20 is 19, not 20", ms(one20...), 95, 19 * time.Millisecond},
		{"p99 of 1..100", ms(one100...), 99, 99 * time.Millisecond},
		{"p50 of 1..100", ms(one100...), 50, 50 * time.Millisecond},
		{"p100 is the max", ms(one100...), 100, 100 * time.Millisecond},
		{"tiny p is the min", ms(one100...), 0.001, time.Millisecond},
		{"p99 of 10 values is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 1000), 99, 1000 * time.Millisecond},
		{"p90 of 10 values", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 1000), 90, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	ds := []time.Duration{40, 10, 30, 20, 100}
	got := summarise(ds)
	want := Latency{Mean: 40, P50: 30, P95: 100, P99: 100, Max: 100}
	if got != want {
		t.Errorf("summarise = %+v, want %+v", got, want)
	}
	if ds[0] != 10 || ds[4] != 100 {
		t.Errorf("durations after summarise = %v, want them sorted", ds)
	}
	if got := summarise(nil); got != (Latency{}) {
		t.Errorf("summarise(nil) = %+v, want zero", got)
	}
}
