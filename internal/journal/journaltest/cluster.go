package journaltest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartNATSCluster starts three clustered nats-servers with JetStream in
// the test process (StartNATS each, routes on loopback), waits until they
// have formed a cluster with a JetStream meta leader that knows all three,
// and returns them.
// They are shut down when the test ends.
func StartNATSCluster(t testing.TB) []*server.Server {
	t.Helper()
	srvs := startRouted(t, 3)
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range srvs {
		for !s.JetStreamIsCurrent() || s.NumRoutes() < 2 {
			if time.Now().After(deadline) {
				t.Fatal("nats cluster not formed after 30s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A replicated stream is placed only on peers the meta leader knows:
	// before it has heard of all three, creating an R3 stream is refused
	// ("no suitable peers for placement").
	for !leaderKnowsPeers(srvs) {
		if time.Now().After(deadline) {
			t.Fatal("nats cluster's meta leader does not know its 3 peers after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return srvs
}

// leaderKnowsPeers reports whether one of srvs is the JetStream meta
// leader and knows every server as a peer.
func leaderKnowsPeers(srvs []*server.Server) bool {
	for _, s := range srvs {
		if s.JetStreamIsLeader() {
			return len(s.JetStreamClusterPeers()) == len(srvs)
		}
	}
	return false
}
