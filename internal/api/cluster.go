package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/lease"
)

// clusterTimeout bounds the reads one GET /api/v1/cluster makes.
const clusterTimeout = 5 * time.Second

// LeaseSet is one kind of work whose leases the nodes hold: the bucket
// and the key prefix of its leases.
type LeaseSet struct {
	KV     jetstream.KeyValue
	Prefix string
}

// ClusterDeps are what GET /api/v1/cluster reads.
type ClusterDeps struct {
	Journal *journal.Journal
	// Nodes is the bucket of the node heartbeats (lease.Bucket).
	Nodes jetstream.KeyValue
	// LogStreams and Sources are the leases of the log streams and of the
	// polling sources.
	LogStreams, Sources LeaseSet
	// Detections is the lease of the detection runtime (one node evaluates).
	Detections LeaseSet
	// Self is this node's id; Embedded says the journal is this node's
	// embedded server (it leads every journal stream).
	Self     string
	Embedded bool
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
}

// Cluster is the answer of GET /api/v1/cluster.
type Cluster struct {
	// Self is the node that answered.
	Self  string        `json:"self"`
	Nodes []ClusterNode `json:"nodes"`
	// Journal lists the journal's JetStream streams and their leaders.
	Journal []JournalStream `json:"journal"`
	// JournalPartitions is how many streams hold the events
	// (journal.partitions); each is listed in Journal with its partition.
	JournalPartitions int `json:"journalPartitions"`
}

// ClusterNode is one node: its heartbeat and what it owns.
type ClusterNode struct {
	ID            string    `json:"id"`
	Version       string    `json:"version"`
	Started       time.Time `json:"started,omitzero"`
	LastHeartbeat time.Time `json:"lastHeartbeat,omitzero"`
	// Live: the node announced itself within lease.NodeTTL.
	Live bool `json:"live"`
	// LogStreams and Sources are the ids of the log streams and polling
	// sources whose unexpired lease the node holds.
	LogStreams []string `json:"logStreams"`
	Sources    []string `json:"sources"`
	// Detections: the node evaluates the detection rules (it holds their
	// lease).
	Detections bool `json:"detections"`
}

// JournalStream is one JetStream stream of the journal.
type JournalStream struct {
	Name string `json:"name"`
	// Leader is the server that leads the stream's replicas (this node's
	// id for the embedded journal).
	Leader   string `json:"leader"`
	Replicas int    `json:"replicas"`
	// Partition is the journal partition the stream holds, for the events
	// streams (absent for the dead letters).
	Partition *int `json:"partition,omitempty"`
}

// ClusterRoute is GET /api/v1/cluster: the nodes, what each owns, and the
// journal's streams with their leaders. It covers every org, so only an
// all-orgs admin token may read it.
func ClusterRoute(d ClusterDeps) httpapi.Route {
	if d.Now == nil {
		d.Now = time.Now
	}
	return httpapi.Route{Pattern: "GET /api/v1/cluster", Scope: auth.ScopeAdmin,
		Handle: func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
			if tok.Org != auth.AllOrgs {
				return httpapi.Forbidden("the cluster view covers every org: use an all-orgs admin token")
			}
			ctx, cancel := context.WithTimeout(r.Context(), clusterTimeout)
			defer cancel()
			c, err := d.view(ctx)
			if err != nil {
				return httpapi.Errorf(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "Cluster state unavailable").
					WithCauses(err.Error())
			}
			httpapi.WriteJSON(w, http.StatusOK, c)
			return nil
		}}
}

// view reads the cluster's state.
func (d ClusterDeps) view(ctx context.Context) (Cluster, error) {
	now := d.Now()
	heartbeats, err := lease.ReadNodes(ctx, d.Nodes)
	if err != nil {
		return Cluster{}, err
	}
	nodes := map[string]*ClusterNode{}
	node := func(id string) *ClusterNode {
		n, ok := nodes[id]
		if !ok {
			n = &ClusterNode{ID: id, LogStreams: []string{}, Sources: []string{}}
			nodes[id] = n
		}
		return n
	}
	for _, h := range heartbeats {
		n := node(h.ID)
		n.Version, n.Started, n.LastHeartbeat = h.Version, h.Started, h.LastSeen
		n.Live = now.Sub(h.LastSeen) < lease.NodeTTL
	}
	for _, set := range []struct {
		leases LeaseSet
		add    func(n *ClusterNode, id string)
	}{
		{d.LogStreams, func(n *ClusterNode, id string) { n.LogStreams = append(n.LogStreams, id) }},
		{d.Sources, func(n *ClusterNode, id string) { n.Sources = append(n.Sources, id) }},
		{d.Detections, func(n *ClusterNode, _ string) { n.Detections = true }},
	} {
		if set.leases.KV == nil {
			continue
		}
		held, err := lease.All(ctx, set.leases.KV, set.leases.Prefix)
		if err != nil {
			return Cluster{}, err
		}
		for id, l := range held {
			if now.Before(l.Expires) {
				set.add(node(l.Node), id)
			}
		}
	}
	out := Cluster{Self: d.Self, Nodes: []ClusterNode{}, Journal: []JournalStream{}}
	for _, n := range nodes {
		slices.Sort(n.LogStreams)
		slices.Sort(n.Sources)
		out.Nodes = append(out.Nodes, *n)
	}
	slices.SortFunc(out.Nodes, func(a, b ClusterNode) int { return strings.Compare(a.ID, b.ID) })
	if out.Journal, err = d.journalStreams(ctx); err != nil {
		return Cluster{}, err
	}
	if d.Journal != nil {
		out.JournalPartitions = len(d.Journal.Partitions())
	}
	return out, nil
}

// journalStreams lists the journal's streams (not the buckets' streams)
// and their leaders.
func (d ClusterDeps) journalStreams(ctx context.Context) ([]JournalStream, error) {
	out := []JournalStream{}
	if d.Journal == nil {
		return out, nil
	}
	l := d.Journal.JetStream().ListStreams(ctx)
	for info := range l.Info() {
		name := info.Config.Name
		if strings.HasPrefix(name, "KV_") || strings.HasPrefix(name, "OBJ_") {
			continue
		}
		s := JournalStream{Name: name, Replicas: max(info.Config.Replicas, 1)}
		for _, p := range d.Journal.Partitions() {
			if p.Stream() == name {
				s.Partition = new(p.Index())
			}
		}
		switch {
		case d.Embedded:
			s.Leader = d.Self
		case info.Cluster != nil && info.Cluster.Leader != "":
			s.Leader = info.Cluster.Leader
		default:
			// One server that is not clustered leads everything.
			s.Leader = d.Journal.Conn().ConnectedServerName()
		}
		out = append(out, s)
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b JournalStream) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
