package ratelimit

import (
	"testing"
	"time"
)

var now0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func TestBurstThenRate(t *testing.T) {
	l := Limit{Name: "sms_hour", Count: 5, Period: time.Hour}
	var tat time.Time
	for i := range 5 {
		var ok bool
		tat, ok, _ = l.Decide(tat, now0)
		if !ok {
			t.Fatalf("action %d of a burst of 5 refused", i+1)
		}
	}
	next, ok, wait := l.Decide(tat, now0)
	if ok || wait != 12*time.Minute || !next.Equal(tat) {
		t.Errorf("sixth at once: ok %v wait %v state moved %v; want refused, 12m, unchanged", ok, wait, !next.Equal(tat))
	}
	if _, ok, _ := l.Decide(tat, now0.Add(12*time.Minute)); !ok {
		t.Errorf("after one interval: refused")
	}
	if _, ok, _ := l.Decide(tat, now0.Add(11*time.Minute)); ok {
		t.Errorf("before one interval: allowed")
	}
	// An hour of quiet restores the whole burst.
	tat2 := tat
	for i := range 5 {
		var ok bool
		tat2, ok, _ = l.Decide(tat2, now0.Add(2*time.Hour))
		if !ok {
			t.Fatalf("after quiet, action %d refused", i+1)
		}
	}
}

func TestDisabledLimit(t *testing.T) {
	l := Limit{Name: "off"}
	for range 100 {
		if _, ok, _ := l.Decide(now0, now0); !ok {
			t.Fatal("a disabled limit refused")
		}
	}
}

func TestApplyAllOrNothing(t *testing.T) {
	checks := []Check{
		{Limit{Name: "ip", Count: 100, Period: time.Hour}, "192.0.2.1"},
		{Limit{Name: "number", Count: 1, Period: time.Hour}, "+77011234567"},
	}
	res, next := Apply(checks, []time.Time{{}, {}}, now0)
	if !res.Allowed || len(next) != 2 {
		t.Fatalf("first: %+v", res)
	}
	res, next2 := Apply(checks, next, now0.Add(time.Minute))
	if res.Allowed || next2 != nil || len(res.Refused) != 1 || res.Refused[0] != "number" || res.RetryAfter != 59*time.Minute {
		t.Errorf("second: %+v next %v; want refused by number for 59m, no state written", res, next2)
	}
}
