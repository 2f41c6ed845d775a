package journaltest

import (
	"fmt"
	"net"
	"net/url"
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
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	srvs := make([]*server.Server, 3)
	for i := range srvs {
		srvs[i] = StartNATS(t, &server.Options{ServerName: fmt.Sprintf("n%d", i+1),
			Cluster: server.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: ports[i]}, Routes: routes})
	}
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
