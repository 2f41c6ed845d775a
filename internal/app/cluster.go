package app

import (
	"runtime/debug"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/detect"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/stream"
)

// buildVersion is this binary's module version ("(devel)" when built
// from a work tree).
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// clusterDeps are what GET /api/v1/cluster reads on this node.
func clusterDeps(cfg config.Config, j *journal.Journal, clusterKV, sourceStateKV jetstream.KeyValue) api.ClusterDeps {
	return api.ClusterDeps{Journal: j, Nodes: clusterKV,
		LogStreams: api.LeaseSet{KV: clusterKV, Prefix: stream.LeasePrefix},
		Sources:    api.LeaseSet{KV: sourceStateKV, Prefix: source.LeasePrefix},
		Detections: api.LeaseSet{KV: clusterKV, Prefix: detect.LeasePrefix},
		Self:       cfg.Cluster.NodeID, Embedded: cfg.Journal.NatsURL == ""}
}
