package exportdigest_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/exportdigest"
)

// trail is a directory with data files and the digests of a writer.
type trail struct {
	dir   string
	store *exportdigest.DirStore
	keys  *keyring
	w     *exportdigest.Writer
}

func newTrail(t *testing.T, keys *keyring) *trail {
	t.Helper()
	dir := t.TempDir()
	st, err := exportdigest.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tr := &trail{dir: dir, store: st, keys: keys}
	tr.w = tr.writer()
	if err := tr.w.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr *trail) writer() *exportdigest.Writer {
	return exportdigest.NewWriter(exportdigest.Config{Stream: "0ls1", Interval: time.Hour},
		exportdigest.Deps{Store: tr.store, Signer: tr.keys, Data: isData, Describe: describe})
}

func isData(key string) bool { return strings.HasSuffix(key, ".ndjson") }

func describe(_ string, body []byte) exportdigest.Entry {
	return exportdigest.Entry{Events: strings.Count(string(body), "\n")}
}

// object writes a data file of n events and tells the writer.
func (tr *trail) object(t *testing.T, name string, n int) {
	t.Helper()
	body := []byte(strings.Repeat(`{"uuid":"`+name+`"}`+"\n", n))
	if err := tr.store.Create(t.Context(), name, body); err != nil {
		t.Fatal(err)
	}
	pub := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tr.w.Add(exportdigest.Entry{Key: name, SHA256: exportdigest.Hash(body), Size: int64(len(body)), Events: n, FirstPosition: 1, LastPosition: uint64(n), FirstPublished: pub, LastPublished: pub.Add(time.Minute)})
}

func (tr *trail) flush(t *testing.T) {
	t.Helper()
	if err := tr.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func (tr *trail) digests(t *testing.T) []string {
	t.Helper()
	objs, err := tr.store.List(t.Context(), exportdigest.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func (tr *trail) verify(t *testing.T, keys *keyring) exportdigest.Report {
	t.Helper()
	r, err := exportdigest.Verify(t.Context(), tr.store, exportdigest.VerifyOptions{Keys: keys.lookup, Data: isData})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// standard is a trail of a genesis digest and two digests of three files.
func standard(t *testing.T) *trail {
	tr := newTrail(t, newKeyring("k1"))
	tr.object(t, "events-a.ndjson", 3)
	tr.object(t, "events-b.ndjson", 2)
	tr.flush(t)
	tr.object(t, "events-c.ndjson", 5)
	tr.flush(t)
	if got := len(tr.digests(t)); got != 3 {
		t.Fatalf("got %d digests, want 3", got)
	}
	return tr
}

func has(fs []exportdigest.Finding, kind exportdigest.Kind, key string) bool {
	for _, f := range fs {
		if f.Kind == kind && strings.Contains(f.Key, key) {
			return true
		}
	}
	return false
}

func TestVerifyCleanTrail(t *testing.T) {
	tr := standard(t)
	r := tr.verify(t, tr.keys)
	if !r.OK() || len(r.Warnings) > 0 {
		t.Fatalf("got failures %v warnings %v, want none", r.Failures, r.Warnings)
	}
	if r.Objects != 3 || r.Events != 10 || r.Digests != 3 {
		t.Errorf("got %d objects, %d events, %d digests, want 3, 10, 3", r.Objects, r.Events, r.Digests)
	}
	want := "verified 3 objects, 10 events from 2026-01-02T03:04:05Z to 2026-01-02T03:05:05Z (3 digests)"
	if got := r.Summary(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, tr *trail)
		kind   exportdigest.Kind
		key    string
	}{
		{"byte flipped", func(t *testing.T, tr *trail) {
			p := filepath.Join(tr.dir, "events-b.ndjson")
			b, _ := os.ReadFile(p)
			b[3] ^= 1
			writeKeepTime(t, p, b)
		}, exportdigest.ModifiedObject, "events-b.ndjson"},
		{"line deleted", func(t *testing.T, tr *trail) {
			p := filepath.Join(tr.dir, "events-c.ndjson")
			b, _ := os.ReadFile(p)
			writeKeepTime(t, p, b[strings.IndexByte(string(b), '\n')+1:])
		}, exportdigest.ModifiedObject, "events-c.ndjson"},
		{"object deleted", func(t *testing.T, tr *trail) {
			os.Remove(filepath.Join(tr.dir, "events-a.ndjson"))
		}, exportdigest.MissingObject, "events-a.ndjson"},
		{"digest deleted", func(t *testing.T, tr *trail) {
			os.Remove(filepath.Join(tr.dir, tr.digests(t)[1]))
		}, exportdigest.BrokenChain, "" /* the third digest, checked below */},
		{"digest replaced by a copy of an older one", func(t *testing.T, tr *trail) {
			ds := tr.digests(t)
			b, _ := os.ReadFile(filepath.Join(tr.dir, ds[0]))
			writeKeepTime(t, filepath.Join(tr.dir, ds[1]), b)
		}, exportdigest.BrokenChain, ""},
		{"digest forged with another key", func(t *testing.T, tr *trail) {
			forge(t, tr, newKeyring("k9"))
		}, exportdigest.BadDigest, ""},
		{"digest forged with another key of the same id", func(t *testing.T, tr *trail) {
			forge(t, tr, newKeyring("k1"))
		}, exportdigest.BadDigest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := standard(t)
			digests := tr.digests(t)
			tt.tamper(t, tr)
			r := tr.verify(t, tr.keys)
			if r.OK() {
				t.Fatalf("got a clean report (%s), want a %s", r.Summary(), tt.kind)
			}
			key := tt.key
			if key == "" {
				key = digests[len(digests)-1]
				if tt.kind == exportdigest.BadDigest {
					key = digests[1]
				}
			}
			if !has(r.Failures, tt.kind, key) {
				t.Errorf("got failures %v, want a %s of %s", r.Failures, tt.kind, key)
			}
		})
	}
}

// forge replaces the second digest with one of the same contents signed
// by keys.
func forge(t *testing.T, tr *trail, keys *keyring) {
	t.Helper()
	key := tr.digests(t)[1]
	b, err := tr.store.Read(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := exportdigest.Open(b, tr.keys.lookup)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := exportdigest.Sign(keys, d)
	if err != nil {
		t.Fatal(err)
	}
	writeKeepTime(t, filepath.Join(tr.dir, key), forged)
}

func writeKeepTime(t *testing.T, p string, b []byte) {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyUndigestedObjects(t *testing.T) {
	tr := standard(t)
	ctx := t.Context()
	old := filepath.Join(tr.dir, "events-old.ndjson")
	if err := os.WriteFile(old, []byte("{}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	digests, _ := tr.store.List(ctx, exportdigest.Dir)
	between := digests[0].Modified.Add(digests[2].Modified.Sub(digests[0].Modified) / 2)
	if err := os.Chtimes(old, between, between); err != nil {
		t.Fatal(err)
	}
	if err := tr.store.Create(ctx, "events-new.ndjson", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	r := tr.verify(t, tr.keys)
	if !r.OK() {
		t.Fatalf("got failures %v, want none", r.Failures)
	}
	if !has(r.Warnings, exportdigest.Undigested, "events-old.ndjson") {
		t.Errorf("got warnings %v, want events-old.ndjson in no digest", r.Warnings)
	}
	if !has(r.Infos, exportdigest.NewObject, "events-new.ndjson") {
		t.Errorf("got infos %v, want events-new.ndjson new", r.Infos)
	}
}

func TestKeyRotation(t *testing.T) {
	keys := newKeyring("k1")
	tr := newTrail(t, keys)
	tr.object(t, "events-a.ndjson", 1)
	tr.flush(t)
	keys.add("k2")
	tr.object(t, "events-b.ndjson", 1)
	tr.flush(t)
	if r := tr.verify(t, keys); !r.OK() || r.Objects != 2 {
		t.Fatalf("with both keys: got %v (%s), want 2 objects verified", r.Failures, r.Summary())
	}
	onlyNew := &keyring{ids: []string{"k2"}, keys: map[string]ed25519.PrivateKey{"k2": keys.keys["k2"]}}
	r := tr.verify(t, onlyNew)
	if r.OK() || !has(r.Failures, exportdigest.BadDigest, "") {
		t.Fatalf("without k1: got %v, want the k1 digests refused", r.Failures)
	}
	for _, f := range r.Failures {
		if !strings.Contains(f.Detail, `"k1"`) {
			t.Errorf("got %v, want only k1 digests refused", f)
		}
	}
}

func TestRestartBeforeDigest(t *testing.T) {
	tr := standard(t)
	tr.object(t, "events-d.ndjson", 4) // the writer dies before its digest
	tr.w = tr.writer()
	if err := tr.w.Flush(t.Context()); err != nil || tr.w.Pending() != 0 {
		t.Fatalf("flush before anything was written: %v, %d pending; want nothing done", err, tr.w.Pending())
	}
	if err := tr.w.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := tr.w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	ds := tr.digests(t)
	if len(ds) != 4 {
		t.Fatalf("got %d digests after the restart, want 4", len(ds))
	}
	b, _ := tr.store.Read(t.Context(), ds[3])
	d, _, err := exportdigest.Open(b, tr.keys.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Objects) != 1 || d.Objects[0].Key != "events-d.ndjson" || d.Objects[0].Events != 4 {
		t.Errorf("got objects %+v, want events-d.ndjson with 4 events", d.Objects)
	}
	if d.Previous == nil || d.Previous.Key != ds[2] {
		t.Errorf("got previous %+v, want %s", d.Previous, ds[2])
	}
	if r := tr.verify(t, tr.keys); !r.OK() || r.Objects != 4 || len(r.Warnings)+len(r.Infos) > 0 {
		t.Errorf("got %s, %v %v %v, want 4 objects verified and nothing else", r.Summary(), r.Failures, r.Warnings, r.Infos)
	}
}

func TestDirStoreNeverOverwrites(t *testing.T) {
	st, err := exportdigest.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Create(ctx, "a/b.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	err = st.Create(ctx, "a/b.json", []byte("two"))
	if got, _ := st.Read(ctx, "a/b.json"); string(got) != "one" || err == nil {
		t.Errorf("got %q, err %v, want %q and ErrExists", got, err, "one")
	}
	objs, _ := st.List(ctx, "")
	if fmt.Sprint(len(objs)) != "1" {
		t.Errorf("got %v, want one object (no temporary files)", objs)
	}
}

func TestSettings(t *testing.T) {
	tests := []struct {
		in      exportdigest.Settings
		want    time.Duration
		wantErr string
	}{
		{exportdigest.Settings{}, time.Hour, ""},
		{exportdigest.Settings{Interval: "15m"}, 15 * time.Minute, ""},
		{exportdigest.Settings{Interval: "500ms"}, time.Hour, "want at least 1s"},
		{exportdigest.Settings{Interval: "soon"}, time.Hour, `digests.interval "soon"`},
	}
	for _, tt := range tests {
		err := tt.in.Validate()
		if got := tt.in.IntervalOrDefault(); got != tt.want {
			t.Errorf("%+v: got interval %v, want %v", tt.in, got, tt.want)
		}
		if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: got error %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

// TestObjectListedTwice: an object listed again by a later digest (a
// batch re-sent after a restart finds its object there) counts once.
func TestObjectListedTwice(t *testing.T) {
	tr := standard(t)
	b, err := tr.store.Read(t.Context(), "events-a.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	tr.w.Add(exportdigest.Entry{Key: "events-a.ndjson", SHA256: exportdigest.Hash(b), Size: int64(len(b)), Events: 3})
	tr.flush(t)
	if r := tr.verify(t, tr.keys); !r.OK() || r.Objects != 3 || r.Events != 10 {
		t.Errorf("got %s %v, want 3 objects and 10 events", r.Summary(), r.Failures)
	}
}

// slowStore holds Create of digests until release is closed.
type slowStore struct {
	*exportdigest.DirStore
	entered chan struct{}
	release chan struct{}
}

func (s slowStore) Create(ctx context.Context, key string, body []byte) error {
	if strings.HasPrefix(key, exportdigest.Dir) {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.DirStore.Create(ctx, key, body)
}

// TestAddDuringADigest: Add does not wait for a digest being written, and
// what it adds meanwhile goes into the next digest.
func TestAddDuringADigest(t *testing.T) {
	tr := standard(t)
	slow := slowStore{DirStore: tr.store, entered: make(chan struct{}), release: make(chan struct{})}
	w := exportdigest.NewWriter(exportdigest.Config{Stream: "0ls1"}, exportdigest.Deps{Store: slow, Signer: tr.keys, Data: isData})
	if err := w.Recover(t.Context()); err != nil { // reads only: the chain exists
		t.Fatal(err)
	}
	w.Add(exportdigest.Entry{Key: "events-x.ndjson"})
	errc := make(chan error, 1)
	go func() { errc <- w.Flush(t.Context()) }()
	<-slow.entered // the digest is being written
	w.Add(exportdigest.Entry{Key: "events-y.ndjson"})
	close(slow.release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := w.Pending(); got != 1 {
		t.Errorf("got %d objects waiting, want events-y.ndjson", got)
	}
}

// TestFencedWriterLeavesTheChainToTheNextOwner: an owner whose lease ran
// out (paused, cut off) writes no digest when it wakes, from Flush or
// Close, so the chain its successor went on with is not forked; the
// successor's digest lists the object it left undigested.
func TestFencedWriterLeavesTheChainToTheNextOwner(t *testing.T) {
	tr := standard(t)
	var fenced atomic.Bool
	var reported []error
	old := exportdigest.NewWriter(exportdigest.Config{Stream: "0ls1", Interval: time.Hour},
		exportdigest.Deps{Store: tr.store, Signer: tr.keys, Data: isData, Describe: describe,
			Fenced: fenced.Load, Report: func(err error) { reported = append(reported, err) }})
	if err := old.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	tr.w = old
	tr.object(t, "events-d.ndjson", 4) // written, then the owner pauses past its lease
	fenced.Store(true)

	next := tr.writer()
	if err := next.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	tr.w = next
	tr.object(t, "events-e.ndjson", 1)
	tr.flush(t)

	if err := old.Flush(t.Context()); !errors.Is(err, exportdigest.ErrFenced) {
		t.Errorf("fenced Flush: got %v, want ErrFenced", err)
	}
	if err := old.Close(t.Context()); !errors.Is(err, exportdigest.ErrFenced) {
		t.Errorf("fenced Close: got %v, want ErrFenced", err)
	}
	if len(reported) != 0 {
		t.Errorf("reported: got %v, want nothing (no failure of the owner)", reported)
	}
	if got := len(tr.digests(t)); got != 4 {
		t.Errorf("got %d digests, want 4 (the successor's only)", got)
	}
	if r := tr.verify(t, tr.keys); !r.OK() || r.Objects != 5 || len(r.Warnings)+len(r.Infos) > 0 {
		t.Errorf("got %s, %v %v %v, want 5 objects verified and nothing else", r.Summary(), r.Failures, r.Warnings, r.Infos)
	}
}
