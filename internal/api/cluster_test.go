package api_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/lease"
)

// TestCluster: GET /api/v1/cluster shows the nodes that announce
// themselves, the log streams and sources each holds the lease of, and
// the journal's streams with their leader (the embedded journal's node);
// only an all-orgs admin token may read it.
func TestCluster(t *testing.T) {
	t.Parallel()
	routes := func(j *journal.Journal) []httpapi.Route {
		ctx := t.Context()
		kv := journaltest.KV(t, j, lease.Bucket)
		state := journaltest.KV(t, j, "test_source_state")
		for _, id := range []string{"node-a", "node-b"} {
			if err := lease.NewNodes(lease.NodesConfig{KV: kv, Node: id, Version: "v-test"}).Announce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		streams := lease.New(lease.Config{KV: kv, Prefix: "stream.", Node: "node-b", TTL: time.Minute})
		expired := lease.New(lease.Config{KV: kv, Prefix: "stream.", Node: "node-b", TTL: -time.Second})
		sources := lease.New(lease.Config{KV: state, Prefix: "lease.", Node: "node-a", TTL: time.Minute})
		if !streams.Acquire(ctx, "s1") || !streams.Acquire(ctx, "s2") || !expired.Acquire(ctx, "s3") || !sources.Acquire(ctx, "okta1") {
			t.Fatal("acquire: got false")
		}
		return []httpapi.Route{api.ClusterRoute(api.ClusterDeps{Journal: j, Nodes: kv,
			LogStreams: api.LeaseSet{KV: kv, Prefix: "stream."}, Sources: api.LeaseSet{KV: state, Prefix: "lease."},
			Self: "node-a", Embedded: true})}
	}
	s, _ := newServerWith(t, env{routes: routes})

	tests := []struct {
		name, token string
		status      int
	}{
		{"all-orgs admin", s.admin, 200},
		{"org admin", s.token("acme", auth.ScopeAdmin), 403},
		{"all-orgs reader", s.token(auth.AllOrgs, auth.ScopeReadStreams), 403},
		{"no token", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call("GET", "/api/v1/cluster", tt.token, nil)
			if tt.status != 200 {
				wantError(t, r, tt.status, map[int]string{401: httpapi.CodeInvalidToken, 403: httpapi.CodeForbidden}[tt.status])
				if strings.Contains(string(r.body), "node-a") {
					t.Errorf("got the cluster in %s, want none", r.body)
				}
				return
			}
			wantStatus(t, r, 200)
			var c api.Cluster
			r.json(t, &c)
			if c.Self != "node-a" || len(c.Nodes) != 2 {
				t.Fatalf("got %s, want self node-a and two nodes", r.body)
			}
			a, b := c.Nodes[0], c.Nodes[1]
			if a.ID != "node-a" || !a.Live || a.Version != "v-test" || a.LastHeartbeat.IsZero() ||
				!slices.Equal(a.Sources, []string{"okta1"}) || len(a.LogStreams) != 0 {
				t.Errorf("node a: got %+v, want live, v-test, source okta1, no log stream", a)
			}
			if b.ID != "node-b" || !slices.Equal(b.LogStreams, []string{"s1", "s2"}) || len(b.Sources) != 0 {
				t.Errorf("node b: got %+v, want log streams s1 and s2 (s3's lease expired)", b)
			}
			var names []string
			for _, js := range c.Journal {
				names = append(names, js.Name)
				if js.Leader != "node-a" || js.Replicas != 1 {
					t.Errorf("journal stream %+v: want leader node-a (embedded), 1 replica", js)
				}
				if strings.HasPrefix(js.Name, "KV_") {
					t.Errorf("journal streams: got bucket %s, want the journal's streams only", js.Name)
				}
			}
			if !slices.Contains(names, s.j.StreamName()) {
				t.Errorf("journal streams: got %v, want %s among them", names, s.j.StreamName())
			}
		})
	}
}
