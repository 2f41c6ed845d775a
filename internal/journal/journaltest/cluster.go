package journaltest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartNATSCluster starts three clustered nats-servers with JetStream in
// the test process (StartNATS each, routes on loopback), waits until they
// have formed a cluster with a JetStream meta leader, and returns them.
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
	return srvs
}
