package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaseTTL is the log stream lease (stream.LeaseTTL): a stopped or cut-off
// owner's streams move within about this.
const leaseTTL = 10 * time.Second

// dupBound bounds one stream's duplicates in one fault: each move of the
// stream re-delivers at most its batch in flight and its read-ahead (about
// three batches of the streams' maxEvents, 100), and a fault moves a stream
// at most three times (a rolling restart).
const dupBound = 3 * 3 * 100

// orgs each have one sequential producer.
var orgs = []string{"acme", "globex"}

// arrival is one event a webhook received.
type arrival struct {
	uuid  string
	at    time.Time
	req   int  // the request it came in
	fromN bool // sent by the namespaced node
}

// receiver is the webhook destination of every stream: /hook/<name>.
type receiver struct {
	url  string
	nsIP string

	mu   sync.Mutex
	got  map[string][]arrival
	reqs int
}

func newReceiver(t *testing.T, host, nsIP string) *receiver {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{url: "http://" + l.Addr().String(), nsIP: nsIP, got: map[string][]arrival{}}
	srv := &http.Server{Handler: rc}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var evs []struct {
		UUID string `json:"uuid"`
	}
	if r.Method != http.MethodPost || json.Unmarshal(body, &evs) != nil {
		w.WriteHeader(http.StatusOK) // a verification request
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	name := strings.TrimPrefix(r.URL.Path, "/hook/")
	now := time.Now()
	rc.mu.Lock()
	rc.reqs++
	for _, e := range evs {
		rc.got[name] = append(rc.got[name], arrival{uuid: e.UUID, at: now, req: rc.reqs, fromN: host == rc.nsIP})
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) arrivals(name string) []arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got[name])
}

// acked is an event answered 2xx.
type acked struct {
	org string
	seq int
	at  time.Time
}

// producers send numbered events, one org each, one request at a time,
// round-robin over the nodes; a request not answered 2xx is sent again
// (same uuids) to the next node.
type producers struct {
	nodes []*node

	mu     sync.Mutex
	acked  map[string]acked
	errors int
	codes  map[string]int
}

const perRequest = 20

func (p *producers) run(ctx context.Context, phase string) *sync.WaitGroup {
	var wg sync.WaitGroup
	for oi, org := range orgs {
		wg.Go(func() {
			rr := oi
			for seq := 0; ctx.Err() == nil; seq += perRequest {
				var lines []string
				var ids []string
				for i := range perRequest {
					id := fmt.Sprintf("%s-%s-%07d", phase, org, seq+i)
					ids = append(ids, id)
					ev, _ := json.Marshal(map[string]any{"uuid": id, "eventType": "user.session.start",
						"published": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "severity": "INFO",
						"actor": map[string]any{"id": "00u1", "type": "User", "alternateId": "user@example.com"}})
					lines = append(lines, string(ev))
				}
				body := []byte(strings.Join(lines, "\n"))
				for attempt := 0; ; attempt++ {
					n := p.nodes[rr%len(p.nodes)]
					rr++
					code, _, err := n.post("/api/v1/events?org="+org, "application/x-ndjson", body)
					if err == nil && code/100 == 2 {
						now := time.Now()
						p.mu.Lock()
						for i, id := range ids {
							p.acked[id] = acked{org: org, seq: seq + i, at: now}
						}
						p.mu.Unlock()
						break
					}
					p.mu.Lock()
					p.errors++
					k := strconv.Itoa(code)
					if err != nil {
						k = "transport"
					}
					p.codes[k]++
					p.mu.Unlock()
					if ctx.Err() != nil && attempt > 100 {
						return // not acknowledged: not counted
					}
					time.Sleep(200 * time.Millisecond)
				}
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
	return &wg
}

// stream is a log stream of the suite and the orgs it receives.
type stream struct {
	id, name string
	orgs     []string // nil: all
	s3       bool     // the S3 archive (else a webhook)
}

func (s stream) wants(org string) bool { return s.orgs == nil || slices.Contains(s.orgs, org) }

// suite is the running cluster.
type suite struct {
	t        *testing.T
	ns       *netns
	natsBin  string
	nats     []*natsServer
	nodes    []*node
	rc       *receiver
	archive  *archiveReader
	streams  []stream
	results  []string
	natsURLs []string
}

func TestClusterFaults(t *testing.T) {
	start := time.Now()
	s := &suite{t: t}
	s.ns = newNetns(t)
	var err error
	if s.natsBin, err = natsServerBinary(); err != nil {
		t.Fatal(err)
	}
	bin := buildAuditstream(t)
	s.nats = startNATSCluster(t, s.natsBin, s.ns.natsHost)
	for _, n := range s.nats {
		s.natsURLs = append(s.natsURLs, n.clientURL)
	}
	s.rc = newReceiver(t, s.ns.webHost, s.ns.webNS)
	// versitygw on the receiver's address: node3 reaches it from its
	// namespace through the HTTP veth pair, as it reaches the webhook.
	s.archive = startArchive(t, s.ns.webHost)
	recvNet := s.ns.webHost + "/32"
	for i := range 2 {
		s.nodes = append(s.nodes, startNode(t, bin, fmt.Sprintf("node%d", i+1), fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1")), s.natsURLs, recvNet, nil))
	}
	s.nodes = append(s.nodes, startNode(t, bin, "node3", s.ns.webNS+":18080", s.natsURLs, recvNet, s.ns))
	s.waitLive()
	s.createStreams()
	t.Logf("cluster up in %v: nats %v, nodes %v", time.Since(start).Round(time.Millisecond), s.natsURLs, []string{s.nodes[0].addr, s.nodes[1].addr, s.nodes[2].addr})
	t.Log("| fault | producer errors | acked | acked-but-lost | duplicates | order violations | recovery | notes |")

	s.phase("kill -9 of the owning serve node", func(t *testing.T, p *phaseCtx) {
		victim := s.nodeByID(s.owner(s.streams[0].id))
		p.note("killed %s (owner of %s)", victim.id, s.streams[0].name)
		victim.stop(syscall.SIGKILL)
		time.Sleep(5 * time.Second)
		victim.run(t)
	})
	s.phase("consumer leader step-down", func(t *testing.T, p *phaseCtx) {
		for _, st := range s.streams {
			p.note("%s: %s", st.name, s.stepDown(st.id))
		}
	})
	s.phase("kill -9 of the journal stream leader (a NATS server)", func(t *testing.T, p *phaseCtx) {
		victim := s.streamLeader()
		p.note("killed %s", victim.name)
		victim.stop(syscall.SIGKILL)
		time.Sleep(5 * time.Second)
		victim.start(nil)
		victim.waitHealthy(t)
	})
	s.phase("SIGSTOP of an owning node past its lease, then SIGCONT", func(t *testing.T, p *phaseCtx) {
		n3 := s.nodes[2]
		mine := s.ownedBy(n3.id)
		p.note("paused node3 (owner of %s) for %v", s.names(mine), leaseTTL+5*time.Second)
		n3.signal(syscall.SIGSTOP)
		time.Sleep(leaseTTL + 5*time.Second)
		n3.signal(syscall.SIGCONT)
		p.woke = time.Now()
		p.checkFenced = mine
	})
	s.phase("rolling restart of the 3 NATS servers", func(t *testing.T, p *phaseCtx) {
		for _, n := range s.nats {
			n.stop(syscall.SIGTERM)
			n.start(nil)
			n.waitHealthy(t)
		}
	})
	s.phase("rolling restart of the 3 serve nodes", func(t *testing.T, p *phaseCtx) {
		for _, n := range s.nodes {
			n.stop(syscall.SIGTERM)
			n.run(t)
		}
	})
	s.phase("network partition of one serve node from NATS", func(t *testing.T, p *phaseCtx) {
		n3 := s.nodes[2]
		mine := s.ownedBy(n3.id)
		p.note("cut node3 (owner of %s) off for %v", s.names(mine), leaseTTL+10*time.Second)
		s.ns.partition(t, true)
		cut := time.Now()
		time.Sleep(leaseTTL + 10*time.Second)
		p.cutOff = [2]time.Time{cut.Add(leaseTTL + time.Second), time.Now()}
		s.ns.partition(t, false)
	})
	t.Logf("suite took %v", time.Since(start).Round(time.Second))
	if f := os.Getenv("CLUSTER_RESULTS"); f != "" {
		if err := os.WriteFile(f, []byte(strings.Join(s.results, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func buildAuditstream(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "auditstream")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/auditstream")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build auditstream: %v\n%s", err, out)
	}
	return bin
}

func (s *suite) createStreams() {
	t := s.t
	mk := func(name string, org string) {
		in := map[string]any{"type": "http", "name": name,
			"settings": map[string]any{"url": s.rc.url + "/hook/" + name, "maxEvents": 100, "insecureHttp": true}}
		var orgs []string
		if org != "" {
			in["org"] = org
			orgs = []string{org}
		}
		body, _ := json.Marshal(in)
		code, out, err := s.nodes[0].post("/api/v1/logStreams", "application/json", body)
		if err != nil || code != 200 {
			t.Fatalf("create stream %s: %d %s %v", name, code, out, err)
		}
		var v struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(out, &v)
		s.streams = append(s.streams, stream{id: v.ID, name: name, orgs: orgs})
	}
	mk("acme", "acme")
	mk("globex", "globex")
	mk("all", "")
	s.createS3Stream()
	// node3 (the one that is paused and cut off) must own a stream.
	for i := 0; ; i++ {
		s.waitOwned()
		if len(s.ownedBy("node3")) > 0 {
			break
		}
		if i == 8 {
			t.Fatal("node3 owns no stream after 11 streams")
		}
		mk(fmt.Sprintf("all%d", i+2), "")
	}
}

// createS3Stream creates the S3 archive of every org.
func (s *suite) createS3Stream() {
	t := s.t
	body, _ := json.Marshal(map[string]any{"type": "s3", "name": "archive", "settings": s.archive.settings()})
	code, out, err := s.nodes[0].post("/api/v1/logStreams", "application/json", body)
	if err != nil || code != 200 {
		t.Fatalf("create S3 stream: %d %s %v", code, out, err)
	}
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(out, &v)
	s.streams = append(s.streams, stream{id: v.ID, name: "archive", s3: true})
}

// arrivals are the events stream st delivered: what the webhook received,
// or the S3 archive's objects in the order of their journal ranges.
func (s *suite) arrivals(st stream) []arrival {
	if st.s3 {
		return s.archive.arrivals(s.t)
	}
	return s.rc.arrivals(st.name)
}

// waitLive waits until node1 sees the three nodes live, so that streams
// spread over all three (a node that started last could otherwise own
// nothing yet when the streams are created).
func (s *suite) waitLive() {
	deadline := time.Now().Add(60 * time.Second)
	for {
		live, err := s.nodes[0].live()
		if err == nil && len(live) == len(s.nodes) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nodes live after 60s: %v (%v), want all %d", live, err, len(s.nodes))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitOwned waits until every stream has an owner.
func (s *suite) waitOwned() map[string]string {
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, n := range s.nodes {
			m, err := n.owned()
			if err != nil {
				continue
			}
			all := true
			for _, st := range s.streams {
				all = all && m[st.id] != ""
			}
			if all {
				return m
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatal("streams without an owner after 60s")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (s *suite) owner(id string) string { return s.waitOwned()[id] }

func (s *suite) ownedBy(node string) []string {
	var ids []string
	for id, n := range s.waitOwned() {
		if n == node {
			ids = append(ids, id)
		}
	}
	return ids
}

// names are the names of the streams ids, sorted.
func (s *suite) names(ids []string) string {
	var names []string
	for _, st := range s.streams {
		if slices.Contains(ids, st.id) {
			names = append(names, st.name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (s *suite) nodeByID(id string) *node {
	for _, n := range s.nodes {
		if n.id == id {
			return n
		}
	}
	s.t.Fatalf("no node %s", id)
	return nil
}

func (s *suite) js() (*nats.Conn, jetstream.JetStream) {
	nc, err := nats.Connect(strings.Join(s.natsURLs, ","), nats.Timeout(5*time.Second))
	if err != nil {
		s.t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	return nc, js
}

// stepDown asks the leader of stream id's consumer to step down, through
// the JetStream API, and says what happened.
func (s *suite) stepDown(id string) string {
	nc, js := s.js()
	defer nc.Close()
	ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	for sn := range names.Name() {
		st, err := js.Stream(ctx, sn)
		if err != nil {
			continue
		}
		for ci := range st.ListConsumers(ctx).Info() {
			if ci.Config.Description != "log stream "+id {
				continue
			}
			before := ""
			if ci.Cluster != nil {
				before = ci.Cluster.Leader
			}
			resp, err := nc.RequestWithContext(ctx, fmt.Sprintf("$JS.API.CONSUMER.LEADER.STEPDOWN.%s.%s", sn, ci.Name), nil)
			if err != nil {
				return fmt.Sprintf("step-down of %s failed: %v", ci.Name, err)
			}
			if strings.Contains(string(resp.Data), `"error"`) {
				return fmt.Sprintf("step-down of %s: %s", ci.Name, resp.Data)
			}
			return "consumer leader was " + before
		}
	}
	s.t.Errorf("no consumer for stream %s", id)
	return "no consumer"
}

// streamLeader is the NATS server leading the journal's events stream.
func (s *suite) streamLeader() *natsServer {
	nc, js := s.js()
	defer nc.Close()
	st, err := js.Stream(s.t.Context(), "AUDIT")
	if err != nil {
		s.t.Fatal(err)
	}
	info, err := st.Info(s.t.Context())
	if err != nil || info.Cluster == nil {
		s.t.Fatalf("stream info: %v", err)
	}
	for _, n := range s.nats {
		if n.name == info.Cluster.Leader {
			return n
		}
	}
	s.t.Fatalf("leader %q is none of the servers", info.Cluster.Leader)
	return nil
}

// phaseCtx is what a fault tells the checks.
type phaseCtx struct {
	notes       []string
	woke        time.Time    // a paused node woke (SIGSTOP)
	checkFenced []string     // the streams the paused node owned
	cutOff      [2]time.Time // when the cut-off node must not deliver
}

func (p *phaseCtx) note(f string, a ...any) { p.notes = append(p.notes, fmt.Sprintf(f, a...)) }

var phaseN int

// phase runs producers, injects a fault after a few seconds, goes on
// producing for a few seconds after it, then waits for delivery to catch up
// and checks it.
func (s *suite) phase(name string, fault func(*testing.T, *phaseCtx)) {
	t := s.t
	phaseN++
	prefix := fmt.Sprintf("f%d", phaseN)
	if only := os.Getenv("CLUSTER_FAULTS"); only != "" && !strings.Contains(name, only) {
		t.Logf("fault %q not run: CLUSTER_FAULTS=%q", name, only)
		return
	}
	parent := t
	ok := t.Run(name, func(t *testing.T) {
		s.t = t
		defer func() { s.t = parent }()
		prod := &producers{nodes: s.nodes, acked: map[string]acked{}, codes: map[string]int{}}
		ctx, cancel := context.WithCancel(t.Context())
		wg := prod.run(ctx, prefix)
		time.Sleep(4 * time.Second)
		p := &phaseCtx{}
		t0 := time.Now()
		fault(t, p)
		time.Sleep(4 * time.Second)
		cancel()
		wg.Wait()

		prod.mu.Lock()
		ackedIDs := prod.acked
		errs, codes := prod.errors, prod.codes
		prod.mu.Unlock()
		// Wait until every acknowledged event reached every stream that
		// wants it (AckWait, 30 s, bounds any redelivery).
		var lost int
		lostBy := map[string]int{}
		deadline := time.Now().Add(75 * time.Second)
		for {
			lost = 0
			clear(lostBy)
			for _, st := range s.streams {
				got := map[string]bool{}
				for _, a := range s.arrivals(st) {
					got[a.uuid] = true
				}
				for id, a := range ackedIDs {
					if st.wants(a.org) && !got[id] {
						lost++
						lostBy[st.name]++
					}
				}
			}
			if lost == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // room for late duplicates to show
		dups, disorder, late := 0, 0, 0
		var recovery time.Duration
		var s3note string
		for _, st := range s.streams {
			arr := s.arrivals(st)
			seen := map[string]bool{}
			maxSeq := map[string]int{}
			stDups, stDisorder := 0, 0
			var stRecovery time.Duration
			fenced := slices.Contains(p.checkFenced, st.id)
			var lateReqs []int
			for _, a := range arr {
				if !strings.HasPrefix(a.uuid, prefix+"-") {
					continue
				}
				if seen[a.uuid] {
					stDups++
					continue
				}
				seen[a.uuid] = true
				parts := strings.Split(a.uuid, "-")
				org := parts[1]
				seq, _ := strconv.Atoi(parts[2])
				if m, ok := maxSeq[org]; ok && seq < m {
					stDisorder++
					if stDisorder <= 5 {
						t.Logf("stream %s: %s arrived after sequence %d", st.name, a.uuid, m)
					}
				}
				maxSeq[org] = max(maxSeq[org], seq)
				if ak, ok := ackedIDs[a.uuid]; ok && a.at.After(t0) {
					from := ak.at
					if t0.After(from) {
						from = t0
					}
					stRecovery = max(stRecovery, a.at.Sub(from))
				}
			}
			disorder += stDisorder
			if st.s3 {
				// Its own note: an object waits up to batch.maxAge (1 s)
				// before it is written, and a duplicate is an event in a
				// second object.
				objects := map[int]bool{}
				for _, a := range arr {
					if strings.HasPrefix(a.uuid, prefix+"-") {
						objects[a.req] = true
					}
				}
				s3note = fmt.Sprintf("S3 archive: %d objects, %d lost, %d duplicates, %d order violations, recovery %.1f s",
					len(objects), lostBy[st.name], stDups, stDisorder, stRecovery.Seconds())
			} else {
				recovery = max(recovery, stRecovery)
			}
			for _, a := range arr {
				if !a.fromN || !strings.HasPrefix(a.uuid, prefix+"-") {
					continue
				}
				if fenced && !p.woke.IsZero() && a.at.After(p.woke) && !slices.Contains(lateReqs, a.req) {
					lateReqs = append(lateReqs, a.req)
				}
				if !p.cutOff[0].IsZero() && a.at.After(p.cutOff[0]) && a.at.Before(p.cutOff[1]) && !slices.Contains(lateReqs, a.req) {
					lateReqs = append(lateReqs, a.req)
				}
			}
			// A paused node may finish the one write it was in when it
			// woke; a cut-off node must have stopped.
			allowed := 0
			if fenced {
				allowed = 1
			}
			if now := s.owner(st.id); fenced && now == "node3" {
				allowed = len(lateReqs) // it kept or took the stream back: its own
			}
			if len(lateReqs) > allowed {
				t.Errorf("stream %s: node3 delivered %d batches after losing its lease, want at most %d", st.name, len(lateReqs), allowed)
			}
			late += len(lateReqs)
			if stDups > dupBound {
				t.Errorf("stream %s: %d duplicates, want at most %d (the batches in flight)", st.name, stDups, dupBound)
			}
			dups += stDups
		}
		if lost > 0 {
			t.Errorf("%d acknowledged event deliveries missing after 75s", lost)
		}
		if disorder > 0 {
			t.Errorf("%d events arrived after a later event of their producer (not as a duplicate)", disorder)
		}
		if bad := s.archive.unreadable(); len(bad) > 0 {
			t.Errorf("S3 archive: %d objects cannot be read: %v", len(bad), bad)
		}
		// The export digests still verify: every digest's signature and
		// link, every listed object's size and SHA-256.
		rep := s.archive.verifyDigests(t)
		for _, f := range rep.Failures {
			t.Errorf("S3 archive digests: %s", f)
		}
		if rep.Objects == 0 {
			t.Errorf("S3 archive digests: %s: want objects verified", rep.Summary())
		}
		for _, f := range rep.Warnings {
			t.Logf("S3 archive digests: warning: %s", f)
		}
		s3note += fmt.Sprintf("; digests: %s, %d warnings", rep.Summary(), len(rep.Warnings))
		notes := strings.Join(append(p.notes, s3note), "; ")
		if len(codes) > 0 {
			notes += fmt.Sprintf("; producer errors by status: %v", codes)
		}
		if late > 0 {
			notes += fmt.Sprintf("; batches from the fenced node after it woke: %d", late)
		}
		row := fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %.1f s | %s |", name, errs, len(ackedIDs), lost, dups, disorder,
			recovery.Seconds(), notes)
		t.Log(row)
		s.results = append(s.results, row)
	})
	if !ok {
		t.Logf("fault %q failed; the next faults run on the same cluster", name)
	}
}
