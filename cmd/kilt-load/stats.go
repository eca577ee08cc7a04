package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the nearest-rank
// method: the smallest recorded value that at least p % of all values are less than or
// equal to. It is always a value that was recorded, never an interpolation; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// p·n first, then /100: for whole p both steps are exact, so 95 % of 20 is rank 19, not
	// the 20 that 0.95·20 = 19.000000000000004 would round up to.
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Latency summarises the recorded durations of a run.
type Latency struct {
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P95  time.Duration `json:"p95_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
}

// summarise sorts ds in place and returns its latency summary.
func summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		Mean: sum / time.Duration(len(ds)),
		P50:  percentile(ds, 50),
		P95:  percentile(ds, 95),
		P99:  percentile(ds, 99),
		Max:  ds[len(ds)-1],
	}
}
