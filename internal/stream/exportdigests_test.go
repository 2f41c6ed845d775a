package stream_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/integrity/integritytest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/filesink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestExportDigestFailureIsShown: a file stream whose signed digests
// cannot be written (their directory's name is taken by a file) goes on
// delivering, and says so: lastError in its status, the metric
// auditstream_export_digest_failures_total{stream} and one
// system.log_stream.digest_failed event in its org for the run of
// failures.
func TestExportDigestFailureIsShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	kr := integritytest.Keyring(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(exportdigest.Dir, "/")), []byte("in the way"), 0o640); err != nil {
		t.Fatal(err)
	}
	fs, err := filesink.New(filesink.Config{Dir: dir, MaxBytes: 1024, Digests: exportdigest.Settings{Interval: "1s"}},
		sink.Deps{Stream: "s1", Signer: kr})
	if err != nil {
		t.Fatal(err)
	}
	d := def("s1")
	d.Org = "acme"
	e.put(d)
	e.appendEvents("acme", "user.session.start", 0, 20)
	rc := fast
	rc.SystemOrg = "system"
	sup := stream.NewSupervisor(stream.SupervisorConfig{Store: e.store, Journal: e.j, Log: discard, Metrics: e.metrics,
		StopTimeout: time.Second, Runner: rc,
		Build: func(stream.Definition) (sink.Sink, stream.Filter, error) { return fs, nil, nil }})
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		sup.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	wait.Eventually(t, "two digest failures counted", func() bool {
		return counterValue(e.metrics.DigestFailures.WithLabelValues("s1")) >= 2
	})
	snap := sup.StatusOf("s1").Snapshot()
	if !strings.Contains(snap.LastError, "export digest not written") || snap.State != stream.StateActive || snap.Delivered < 20 {
		t.Errorf("got status %+v, want active, 20 delivered, lastError about the digest", snap)
	}
	var found []event.Record
	err = e.j.ScanMessages(t.Context(), "acme", journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		recs, derr := journal.Decode(m, nil)
		if derr != nil {
			t.Fatal(derr)
		}
		for _, r := range recs {
			if r.EventType == stream.TypeDigestFailed {
				found = append(found, r)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !strings.Contains(string(found[0].Data), `"streamId":"s1"`) || !strings.Contains(string(found[0].Data), `"ERROR"`) {
		t.Fatalf("got %d %s events, want one for stream s1 (ERROR) for the run of failures", len(found), stream.TypeDigestFailed)
	}
}
