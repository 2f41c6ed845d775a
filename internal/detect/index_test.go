package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/epoch"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// listingKV counts the listings of keys (what the index avoids).
type listingKV struct {
	jetstream.KeyValue
	listings atomic.Int64
}

func (k *listingKV) ListKeysFiltered(ctx context.Context, filters ...string) (jetstream.KeyLister, error) {
	k.listings.Add(1)
	return k.KeyValue.ListKeysFiltered(ctx, filters...)
}

func (k *listingKV) ListKeys(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyLister, error) {
	k.listings.Add(1)
	return k.KeyValue.ListKeys(ctx, opts...)
}

func (k *listingKV) Keys(ctx context.Context, opts ...jetstream.WatchOpt) ([]string, error) {
	k.listings.Add(1)
	return k.KeyValue.Keys(ctx, opts...)
}

// raisedAt is a raised detection of org, rule, at t.
func raisedAt(org, rule, id string, t time.Time) Raised {
	return Raised{Detection: correlate.Detection{ID: id, Rule: rule, Org: org, Time: t, Count: 1},
		Info: Info{ID: rule, Title: "Rule " + rule, Level: "high"}}
}

// newestFirst orders detections as the list does.
func newestFirst(a, b Detection) int {
	if c := b.Published.Compare(a.Published); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// nextLink is the rel="next" link of a response, "" when none.
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		if m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(v); m != nil {
			return m[1]
		}
	}
	return ""
}

// page GETs u as org and decodes the detections.
func page(t *testing.T, srvURL, org, u string) ([]Detection, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	req.Header.Set("X-Org", org)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got %d, want 200", u, resp.StatusCode)
	}
	var ds []Detection
	if err := json.NewDecoder(resp.Body).Decode(&ds); err != nil {
		t.Fatal(err)
	}
	next := nextLink(resp.Header)
	if next != "" && !strings.HasPrefix(next, srvURL) {
		next = srvURL + next
	}
	return ds, next, took
}

// all follows rel="next" from u, returning every detection and the pages'
// times.
func all(t *testing.T, srvURL, org, u string) ([]Detection, []time.Duration) {
	t.Helper()
	var out []Detection
	var took []time.Duration
	for u != "" {
		ds, next, d := page(t, srvURL, org, u)
		out = append(out, ds...)
		took = append(took, d)
		if len(took) > 1000 {
			t.Fatal("more than 1000 pages")
		}
		u = next
	}
	return out, took
}

// TestListPagesNewestFirst stores 5,000 detections of acme (shuffled
// times, ties, two rules; 100 of them stored before the list index
// existed, as older versions stored them) and 50 of another org, then
// pages through GET /api/v1/detections: the first page is the newest,
// paging is complete and exact (no detection twice, none missing, the
// order of published time then id), with the rule, status and since
// filters too; the org's keys are listed once (building the index from
// the 100 older ones), never per page; another org's detections never
// show; a bad cursor is a 400.
func TestListPagesNewestFirst(t *testing.T) {
	j := journaltest.Open(t)
	kv := &listingKV{KeyValue: journaltest.KV(t, j, BucketDetections)}
	store := NewStore(kv)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var rs []Raised
	for i := range 5000 {
		// Every 10th shares its time with the one before (ties by id).
		at := base.Add(time.Duration(i-i%10/9) * 37 * time.Second)
		rule := "r1"
		if i%3 == 0 {
			rule = "r2"
		}
		rs = append(rs, raisedAt("acme", rule, fmt.Sprintf("det-%05d-%x", i, rng.Uint32()), at))
	}
	rng.Shuffle(len(rs), func(i, k int) { rs[i], rs[k] = rs[k], rs[i] })
	// The first 100 as older versions stored them: the detection only.
	for _, r := range rs[:100] {
		b, _ := json.Marshal(DetectionOf(r))
		if _, err := kv.Create(t.Context(), detKey("acme", r.Detection.ID), b); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := 100; i < len(rs); i += 250 {
		if err := store.Record(t.Context(), rs[i:min(i+250, len(rs))]); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("recorded 4,900 detections in %v", time.Since(start))
	var others []Raised
	for i := range 50 {
		others = append(others, raisedAt("other", "r1", fmt.Sprintf("oth-%02d", i), base.Add(time.Duration(i)*time.Hour)))
	}
	if err := store.Record(t.Context(), others); err != nil {
		t.Fatal(err)
	}
	// A replay records some again: nothing changes.
	if err := store.Record(t.Context(), rs[100:300]); err != nil {
		t.Fatal(err)
	}
	var want []Detection
	for _, r := range rs {
		want = append(want, DetectionOf(r))
	}
	slices.SortFunc(want, newestFirst)
	// Close every 7th.
	var closed []Detection
	for i, d := range want {
		if i%7 == 0 {
			if _, err := store.Update(t.Context(), "acme", d.ID, TriageClosed, "done", "me", base); err != nil {
				t.Fatal(err)
			}
			closed = append(closed, d)
		}
	}
	srv := serveAPI(t, &API{Store: store, Journal: j, DefaultOrg: "default", Log: slog.New(slog.DiscardHandler)}, auth.ScopeManageDetections)
	listed := kv.listings.Load()
	if listed != 0 {
		t.Fatalf("recording listed the bucket's keys %d times, want 0", listed)
	}
	check := func(name, query string, want []Detection) []time.Duration {
		t.Helper()
		got, took := all(t, srv.URL, "acme", srv.URL+"/api/v1/detections?"+query)
		if len(got) != len(want) {
			t.Errorf("%s: got %d detections, want %d", name, len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			if got[i].ID != want[i].ID {
				t.Fatalf("%s: detection %d: got %s (%s), want %s (%s)", name, i, got[i].ID, got[i].Published, want[i].ID, want[i].Published)
			}
		}
		return took
	}
	took := check("every detection, 500 a page", "limit=500", want)
	if len(took) != 10 {
		t.Errorf("pages: got %d, want 10 (the last one without a next link)", len(took))
	}
	t.Logf("5,000 detections: the first page of 500 took %v (building the index of the 100 older ones), the next ones %v", took[0], took[1:])
	if n := kv.listings.Load(); n != 1 {
		t.Errorf("listings of the bucket's keys: got %d, want 1 (building the index once)", n)
	}
	// The default page (200) is the newest 200.
	first, next, d := page(t, srv.URL, "acme", srv.URL+"/api/v1/detections")
	if len(first) != 200 || first[0].ID != want[0].ID || first[199].ID != want[199].ID || next == "" {
		t.Errorf("first page: got %d from %s, next %q; want the newest 200 from %s", len(first), first[0].ID, next, want[0].ID)
	}
	t.Logf("the first page of 200 of 5,000 detections took %v", d)
	var r2 []Detection
	for _, d := range want {
		if d.Rule == "r2" {
			r2 = append(r2, d)
		}
	}
	check("rule r2, 300 a page", "rule=r2&limit=300", r2)
	slices.SortFunc(closed, newestFirst)
	check("closed, 100 a page", "status=closed&limit=100", closed)
	since := want[1234].Published
	var recent []Detection
	for _, d := range want {
		if !d.Published.Before(since) {
			recent = append(recent, d)
		}
	}
	check("since, 1000 a page", "since="+url.QueryEscape(since.Format(time.RFC3339Nano))+"&limit=1000", recent)
	if n := kv.listings.Load(); n != 1 {
		t.Errorf("listings of the bucket's keys: got %d, want still 1", n)
	}
	// Another org sees its own only.
	got, _ := all(t, srv.URL, "other", srv.URL+"/api/v1/detections?limit=7")
	if len(got) != 50 || got[0].ID != "oth-49" || got[49].ID != "oth-00" {
		t.Errorf("other org: got %d detections, want its 50, newest first", len(got))
	}
	for _, bad := range []string{"x", "12_", "_det", "12_a.b", "notanumber_det"} {
		if code, body := do(t, srv, "acme", "GET", "/api/v1/detections?after="+url.QueryEscape(bad), ""); code != http.StatusBadRequest || !strings.Contains(body, `"errorCode":"E0000053"`) {
			t.Errorf("after=%s: got %d %s, want 400 E0000053", bad, code, body)
		}
	}
	// For the record: what a page cost before the index (every key of
	// the org listed and read, then sorted).
	start = time.Now()
	lister, err := kv.KeyValue.ListKeysFiltered(t.Context(), "d.acme.*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range lister.Keys() {
		if _, err := kv.KeyValue.Get(t.Context(), k); err == nil {
			n++
		}
	}
	t.Logf("listing and reading the %d keys of the org (the list before the index) took %v", n, time.Since(start))
}

// TestIndexConcurrentWriters: four writers (as several nodes, or a
// replay beside the runtime) record 1,200 detections of one hour at once,
// past a segment's 1,000 entries, each also recording some of another's
// again: every detection is listed exactly once, in order.
func TestIndexConcurrentWriters(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, BucketDetections)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var want []Detection
	batches := make([][]Raised, 4)
	for w := range 4 {
		for i := range 300 {
			r := raisedAt("acme", "r1", fmt.Sprintf("w%d-%03d", w, i), base.Add(time.Duration(i*4+w)*time.Second))
			batches[w] = append(batches[w], r)
			want = append(want, DetectionOf(r))
		}
	}
	slices.SortFunc(want, newestFirst)
	errs := make(chan error, 4)
	for w := range 4 {
		store := NewStore(kv) // one store per writer, as per node
		again := batches[(w+1)%4][:50]
		go func() {
			for i := 0; i < len(batches[w]); i += 10 {
				if err := store.Record(t.Context(), batches[w][i:i+10]); err != nil {
					errs <- err
					return
				}
				if i/10 < len(again)/10 {
					if err := store.Record(t.Context(), again[i:i+10]); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var got []Detection
	store := NewStore(kv)
	after := Cursor{}
	for {
		p, err := store.ListPage(t.Context(), "acme", Filter{Limit: 1000}, after)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Detections...)
		if p.Next.ID == "" {
			break
		}
		after = p.Next
	}
	if len(got) != len(want) {
		t.Fatalf("got %d detections, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("detection %d: got %s, want %s", i, got[i].ID, want[i].ID)
		}
	}
	dir, _, err := store.readDir(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if n := dir.Hours[epoch.Hour(base)]; n != 2 {
		t.Errorf("segments of the hour: got %d, want 2 (1,200 entries, 1,000 a segment)", n)
	}
}
