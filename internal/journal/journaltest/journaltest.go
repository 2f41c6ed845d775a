// Package journaltest opens embedded journals for tests, as
// net/http/httptest starts servers: each in its own t.TempDir(), closed
// when the test ends.
package journaltest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal"
)

// Open starts an embedded journal (in-process NATS JetStream, no network
// listener) in a fresh t.TempDir() and closes it in t.Cleanup. It fails
// the test if the journal does not start.
func Open(t testing.TB) *journal.Journal {
	t.Helper()
	return OpenWith(t, journal.Options{})
}

// OpenWith is Open with opts: an empty DataDir becomes a fresh
// t.TempDir(), so a test that reopens a directory passes its own. The
// journal logs nowhere. Closing it again before the test ends is allowed
// (Close is idempotent), for tests that hand the directory on.
func OpenWith(t testing.TB, opts journal.Options) *journal.Journal {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	j, err := journal.Open(t.Context(), opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open journal: %v", err)
	}
	t.Cleanup(j.Close)
	return j
}

// KV returns the journal's key-value bucket, creating it if needed, and
// fails the test on an error.
func KV(t testing.TB, j *journal.Journal, bucket string) jetstream.KeyValue {
	t.Helper()
	kv, err := j.KV(t.Context(), bucket)
	if err != nil {
		t.Fatalf("bucket %s: %v", bucket, err)
	}
	return kv
}

// AppendLegacy stores evs in the version 1 format (one message per event,
// with headers), as releases before record batches did, so that tests can
// check that such data keeps working. It fails the test on an error.
func AppendLegacy(t testing.TB, j *journal.Journal, evs []event.Record) {
	t.Helper()
	for _, ev := range evs {
		if _, err := j.JetStream().PublishMsg(t.Context(), journal.LegacyMessage(ev)); err != nil {
			t.Fatalf("append a version 1 message: %v", err)
		}
	}
}

// AppendPadded appends msgs record batches of per events each to j for
// org (uuids "r<batch>-<i>", type user.session.start, each event padded
// with pad random bytes, which compression does not shrink) and returns the journal's last sequence: a journal of
// known size, for tests of how far a reader lags behind its head. It
// fails the test on an error.
func AppendPadded(t testing.TB, j *journal.Journal, org string, msgs, per, pad int) uint64 {
	t.Helper()
	for r := range msgs {
		evs := make([]event.Record, per)
		for i := range evs {
			ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"r%d-%d","eventType":"user.session.start","pad":%q}`, r, i, eventtest.Noise(fmt.Sprint(r, "-", i), pad)), org, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			evs[i] = ev
		}
		if _, err := j.Append(t.Context(), evs); err != nil {
			t.Fatal(err)
		}
	}
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// Fill appends the events from to n-1 of a benchmark's journal in
// batches of 1000, from two writers at once. Each writer w gets its own
// generator, newGen(w), and asks it for the events of the batches it
// takes, in order. Fill stops at the first error.
func Fill(ctx context.Context, j *journal.Journal, from, n int, newGen func(w int) func(i int) (event.Record, error)) error {
	const batch = 1000
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	next := make(chan int)
	for w := range 2 {
		wg.Go(func() {
			gen := newGen(w)
			for s := range next {
				evs := make([]event.Record, 0, batch)
				for i := s; i < min(s+batch, n); i++ {
					ev, err := gen(i)
					if err != nil {
						errc <- err
						return
					}
					evs = append(evs, ev)
				}
				if _, err := j.Append(ctx, evs); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	for s := from; s < n; s += batch {
		select {
		case next <- s:
		case err := <-errc:
			close(next)
			wg.Wait()
			return err
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// Records returns every event in the journal, in journal order, read with
// journal.Scan; it fails the test on an error.
func Records(t testing.TB, j *journal.Journal) []event.Record {
	t.Helper()
	var out []event.Record
	err := j.Scan(t.Context(), "", journal.ScanFrom{}, func(recs []event.Record, _ uint64, _ time.Time) bool {
		for _, r := range recs {
			r.Data = bytes.Clone(r.Data)
			out = append(out, r)
		}
		return true
	})
	if err != nil {
		t.Fatalf("read the journal: %v", err)
	}
	return out
}

// Last returns the newest event of org with the given event type, and
// false when there is none; it fails the test on an error.
func Last(t testing.TB, j *journal.Journal, org, eventType string) (event.Record, bool) {
	t.Helper()
	recs := Records(t, j)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Org == org && recs[i].EventType == eventType {
			return recs[i], true
		}
	}
	return event.Record{}, false
}

// StartNATS starts a nats-server with JetStream for tests that need an
// external server (several journals as nodes, a server that goes away):
// on 127.0.0.1, a free port unless opts.Port is set, its store in a fresh
// t.TempDir() unless opts.StoreDir is set, the journal's 8 MiB
// max_payload. It is shut down when the test ends. opts may be nil; it is
// filled in, so a test can start the server again on the same port and
// store with the same opts.
func StartNATS(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	opts.Host, opts.JetStream, opts.NoSigs = "127.0.0.1", true, true
	if opts.Port == 0 {
		opts.Port = -1
	}
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 8 << 20
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats-server not ready after 10s")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// StartCluster starts n nats-servers with JetStream clustered on
// 127.0.0.1 (servers n1 … nn, cluster "test", each its own store in a
// fresh t.TempDir()), waits until they have elected a JetStream meta
// leader, and shuts them down when the test ends. Connect to any of them,
// or to all: ClusterURL.
func StartCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	srvs := startRouted(t, n)
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, s := range srvs {
			if s.JetStreamIsLeader() {
				return srvs
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("nats cluster: no JetStream meta leader after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startRouted starts n nats-servers with JetStream (StartNATS each),
// servers n1 … nn of cluster "test" routed to each other on loopback
// ports picked free, and returns them without waiting for the cluster to
// form.
func startRouted(t testing.TB, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	srvs := make([]*server.Server, n)
	for i := range srvs {
		srvs[i] = StartNATS(t, &server.Options{ServerName: fmt.Sprintf("n%d", i+1),
			Cluster: server.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ","))})
	}
	return srvs
}

// ClusterURL is the comma-separated client URLs of srvs (nats.Connect
// takes it as is).
func ClusterURL(srvs []*server.Server) string {
	urls := make([]string, len(srvs))
	for i, s := range srvs {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}
