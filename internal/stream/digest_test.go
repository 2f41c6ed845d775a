package stream_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// idsRenderer renders a digest as the list of its events' uuids.
type idsRenderer struct{}

func (idsRenderer) One(n notify.Notice) ([]byte, error) { return json.Marshal([]string{n.UUID}) }
func (idsRenderer) Digest(d notify.Digest) ([]byte, error) {
	ids := make([]string, len(d.Notices))
	for i, n := range d.Notices {
		ids[i] = n.UUID
	}
	return json.Marshal(ids)
}

// digestHook records each message's uuids.
type digestHook struct {
	*httptest.Server
	mu   sync.Mutex
	msgs [][]string
}

func newDigestHook(t *testing.T) *digestHook {
	h := &digestHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ids []string
		if r.Method == http.MethodPost && json.Unmarshal(b, &ids) == nil {
			h.mu.Lock()
			h.msgs = append(h.msgs, ids)
			h.mu.Unlock()
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *digestHook) messages() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.msgs)
}

// startDigestNode runs a runner of def("s1") whose sink posts a digest
// every period to h, on its own journal connection, until the test ends or
// the returned stop (which stops it hard: what it holds is not sent).
func startDigestNode(t *testing.T, j *journal.Journal, h *digestHook, period time.Duration) (stop func()) {
	t.Helper()
	u, _ := url.Parse(h.URL + "/hook")
	s := notify.New(notify.Options{Name: "digest", URL: u, Shown: notify.Shown(u), Timeout: 5 * time.Second,
		Digest: period, Render: idsRenderer{}}, sink.Deps{})
	cfg := fast
	cfg.MaxAge = 0 // the sink's: the digest period
	cfg.AckWait = time.Second
	cfg.Def, cfg.Sink, cfg.Journal, cfg.Log = def("s1"), s, j, discard
	cfg.Metrics, cfg.Status = stream.NewMetrics(prometheus.NewRegistry()), &stream.Status{}
	r := stream.NewRunner(cfg)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx, ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; _ = s.Close(context.Background()) }) }
	t.Cleanup(stop)
	return stop
}

// TestDigestSurvivesCrash: a digest stream's runner holds the period's
// events unacknowledged; when its node dies (its connection drops) before
// the period ends, nothing was sent, and the next runner sends those
// events in its digest with the new ones: each event in exactly one
// digest, none lost, none doubled.
func TestDigestSurvivesCrash(t *testing.T) {
	t.Parallel()
	const period = 3 * time.Second
	srv := journaltest.StartNATS(t, nil)
	jA := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	jB := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	h := newDigestHook(t)

	stopA := startDigestNode(t, jA, h, period)
	appendOneByOne(t, jA, 0, 3)
	wait.Eventually(t, "node A holding three events", func() bool {
		info, err := consumerInfo(t, jA)
		return err == nil && info.NumAckPending == 3 && info.NumPending == 0
	})
	// Node A dies within the period (kill -9): its connection drops, so
	// no ack, nak or in-progress any more, and it posts nothing.
	jA.Conn().Close()
	stopA()
	if got := h.messages(); len(got) != 0 {
		t.Fatalf("messages before the period ended: got %v, want none", got)
	}

	startDigestNode(t, jB, h, period)
	appendOneByOne(t, jB, 3, 4)
	wait.Eventually(t, "node B's digest", func() bool { return len(h.messages()) == 1 }, wait.Within(20*time.Second))
	appendOneByOne(t, jB, 4, 5)
	wait.Eventually(t, "the next digest", func() bool { return len(h.messages()) == 2 }, wait.Within(20*time.Second))

	msgs := h.messages()
	first := slices.Clone(msgs[0])
	slices.Sort(first)
	if want := ids(0, 4); !slices.Equal(first, want) {
		t.Errorf("first digest: got %v, want %v (node A's three and the new one, once each)", msgs[0], want)
	}
	if want := ids(4, 5); !slices.Equal(msgs[1], want) {
		t.Errorf("second digest: got %v, want %v", msgs[1], want)
	}
}

// TestDigestHoldsThePeriod: the events of a period go out in one message,
// no sooner than the period after the first of them arrived.
func TestDigestHoldsThePeriod(t *testing.T) {
	t.Parallel()
	const period = 2 * time.Second
	j := journaltest.Open(t)
	h := newDigestHook(t)
	startDigestNode(t, j, h, period)
	start := time.Now()
	appendOneByOne(t, j, 0, 2)
	appendOneByOne(t, j, 2, 3)
	wait.Eventually(t, "the digest", func() bool { return len(h.messages()) == 1 }, wait.Within(10*time.Second))
	if took := time.Since(start); took < period-100*time.Millisecond {
		t.Errorf("digest sent after %v, want about the period %v", took, period)
	}
	if got := h.messages()[0]; !slices.Equal(got, ids(0, 3)) {
		t.Errorf("digest: got %v, want %v", got, ids(0, 3))
	}
}
