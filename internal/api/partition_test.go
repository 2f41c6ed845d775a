package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/wait"
	"github.com/auditstream/auditstream/internal/wire"
)

// On a journal of 3 partitions, log streams created through the API (one
// of org acme, in partition 2, and one of every org) deliver what is
// ingested through the API, each org's events in order, and the cluster
// view lists the three partition streams with their leader.
func TestAPIOnPartitionedJournal(t *testing.T) {
	t.Parallel()
	s, _ := newServerWith(t, env{partitions: 3, routes: func(j *journal.Journal) []httpapi.Route {
		return []httpapi.Route{api.ClusterRoute(api.ClusterDeps{Journal: j, Self: "node-a", Embedded: true})}
	}})
	mk := func(name, org string) wire.Stream {
		var v wire.Stream
		r := s.call("POST", "/api/v1/logStreams", s.admin, map[string]any{"type": "test", "name": name, "org": org,
			"settings": map[string]any{"url": "http://x"}})
		wantStatus(t, r, 200)
		r.json(t, &v)
		return v
	}
	acme, everyone := mk("acme", "acme"), mk("everyone", "*")
	orgs := []string{"acme", "other", "org3"}
	for i := range 30 {
		for _, org := range orgs {
			tok := s.token(org, auth.ScopeWriteEvents)
			body := fmt.Sprintf(`[{"uuid":"%s-%02d","eventType":"x"},{"uuid":"%s-%02d","eventType":"x"}]`, org, 2*i, org, 2*i+1)
			wantStatus(t, s.call("POST", "/api/v1/events", tok, body), 202)
			if i == 0 {
				// The same events again: de-duplicated by uuid.
				wantStatus(t, s.call("POST", "/api/v1/events", tok, body), 202)
			}
		}
	}
	inOrder := func(recs []string, org string) bool {
		var got []string
		for _, u := range recs {
			if strings.HasPrefix(u, org+"-") {
				got = append(got, u)
			}
		}
		if len(got) != 60 {
			return false
		}
		for i, u := range got {
			if u != fmt.Sprintf("%s-%02d", org, i) {
				return false
			}
		}
		return true
	}
	uuidsOf := func(id string) []string {
		sk := s.types.sink(id)
		sk.mu.Lock()
		defer sk.mu.Unlock()
		var out []string
		for _, b := range sk.batches {
			for _, r := range b {
				if r.EventType == "x" {
					out = append(out, r.UUID)
				}
			}
		}
		return out
	}
	wait.Eventually(t, "acme's stream delivered acme's 60 events in order", func() bool {
		got := uuidsOf(acme.ID)
		return len(got) == 60 && inOrder(got, "acme")
	})
	wait.Eventually(t, "every org's stream delivered 180 events, each org's in order", func() bool {
		got := uuidsOf(everyone.ID)
		return len(got) == 180 && inOrder(got, "acme") && inOrder(got, "other") && inOrder(got, "org3")
	})

	var c api.Cluster
	r := s.call("GET", "/api/v1/cluster", s.admin, nil)
	wantStatus(t, r, 200)
	r.json(t, &c)
	var parts []string
	for _, js := range c.Journal {
		if js.Partition != nil {
			parts = append(parts, fmt.Sprintf("%d:%s:%s", *js.Partition, js.Name, js.Leader))
		}
	}
	if want := []string{"0:AUDIT_P0:node-a", "1:AUDIT_P1:node-a", "2:AUDIT_P2:node-a"}; c.JournalPartitions != 3 || !slices.Equal(parts, want) {
		t.Errorf("cluster journal: got %d partitions %v, want 3 %v", c.JournalPartitions, parts, want)
	}
}
