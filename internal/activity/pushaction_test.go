package activity

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestPushActionSameAsInsert checks pushAction's binary search and
// in-place shift against inserting with insertNewest and cutting at max:
// the same list and the same evictions, for actions newer, older and of
// the same time as those kept, with lists under, at and over the limit.
func TestPushActionSameAsInsert(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, max := range []int{1, 2, 5, 50} {
		for _, start := range []int{0, 1, max - 1, max, max + 3} {
			if start < 0 {
				continue
			}
			got, want := newProfile("acme", "u"), newProfile("acme", "u")
			for i := range start {
				a := Action{Time: t0.Add(-time.Duration(i) * time.Second), UUID: "s"}
				got.AdminActions = append(got.AdminActions, a)
				want.AdminActions = append(want.AdminActions, a)
			}
			for n := range 300 {
				a := Action{Time: t0.Add(time.Duration(rng.IntN(20)-10) * time.Second), UUID: string(rune('a' + n%26))}
				got.pushAction(&got.AdminActions, "adminActions", a, max)
				want.AdminActions = insertNewest(want.AdminActions, a, func(x Action) time.Time { return x.Time })
				if len(want.AdminActions) > max {
					want.AdminActions = want.AdminActions[:max]
					want.evict("adminActions")
				}
				if !reflect.DeepEqual(got.AdminActions, want.AdminActions) || !reflect.DeepEqual(got.Evicted, want.Evicted) {
					t.Fatalf("max %d, start %d, push %d: got %v (evicted %v), want %v (evicted %v)",
						max, start, n, got.AdminActions, got.Evicted, want.AdminActions, want.Evicted)
				}
			}
		}
	}
}
