package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// route says which of the run's streams must receive each event: with one
// stream, every event; with several, each event goes to exactly one, the
// stream whose filter lists its template's eventType.
type route struct {
	// filters[s] is stream s's EventBridge pattern, nil for no filter.
	filters []json.RawMessage
	// byTemplate[t] is the stream that receives template t's events.
	byTemplate []int
}

// streams is the number of streams.
func (r *route) streams() int { return len(r.filters) }

// stream returns the stream that must receive event idx of gen.
func (r *route) stream(gen *generator, idx uint64) int {
	return r.byTemplate[gen.template(idx)]
}

// newRoute splits the templates' event types over n streams. With n = 1
// the stream has no filter. With more, the distinct event types are dealt
// out largest first, each to the stream with the fewest templates so far
// (so the streams get similar shares of the load), and stream s's filter
// is {"detail":{"eventType":[its types]}}: every event matches exactly one
// filter. It fails when there are fewer event types than streams.
func newRoute(gen *generator, n int) (*route, error) {
	r := &route{byTemplate: make([]int, len(gen.types))}
	if n <= 1 {
		r.filters = []json.RawMessage{nil}
		return r, nil
	}
	count := map[string]int{}
	for _, t := range gen.types {
		if t == "" {
			return nil, fmt.Errorf("--streams %d: a template has no eventType to filter on", n)
		}
		count[t]++
	}
	if len(count) < n {
		return nil, fmt.Errorf("--streams %d: the templates have only %d distinct event types", n, len(count))
	}
	types := make([]string, 0, len(count))
	for t := range count {
		types = append(types, t)
	}
	// Largest first, then by name: the same split on every run.
	slices.SortFunc(types, func(a, b string) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b))
	})
	groups := make([][]string, n)
	load := make([]int, n)
	streamOf := map[string]int{}
	for _, t := range types {
		s := 0
		for i := range n {
			if load[i] < load[s] {
				s = i
			}
		}
		groups[s] = append(groups[s], t)
		load[s] += count[t]
		streamOf[t] = s
	}
	for i, t := range gen.types {
		r.byTemplate[i] = streamOf[t]
	}
	for _, g := range groups {
		slices.Sort(g)
		f, err := json.Marshal(map[string]any{"detail": map[string]any{"eventType": g}})
		if err != nil {
			return nil, err
		}
		r.filters = append(r.filters, f)
	}
	return r, nil
}
