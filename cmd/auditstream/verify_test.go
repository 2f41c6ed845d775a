package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// TestVerifyJournalCommand: `verify journal --data-dir` verifies a
// journal signed with the key serve generated there, exits 1 naming the
// broken link once a batch is deleted, and reads a keys file.
func TestVerifyJournalCommand(t *testing.T) {
	dir := t.TempDir()
	spec, _, err := integrity.LoadOrGenerate(dir)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := integrity.NewKeyring([]integrity.KeySpec{spec}, "")
	if err != nil {
		t.Fatal(err)
	}
	j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
	var evs []event.Record
	for i := range 250 {
		ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"e-%d","eventType":"user.session.start","published":"2026-12-04T10:00:00Z"}`, i), "acme", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if _, err := j.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	dg := integrity.NewDigester(integrity.DigesterConfig{Interval: time.Minute},
		integrity.DigesterDeps{Journal: j, Keys: kr, State: journaltest.KV(t, j, integrity.Bucket)})
	if _, err := dg.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	var second, last uint64
	var saved []byte // the digest, as GET /api/v1/integrity/digests lists it
	_ = j.ScanMessages(t.Context(), "acme", journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		if second == 0 && m.Seq > 1 {
			second = m.Seq
		}
		last = m.Seq
		recs, _ := journal.Decode(m, nil)
		if sd, err := integrity.ParseDigestEvent(recs[0].Data); err == nil {
			saved, _ = json.Marshal(integrity.DigestEntry{Position: recs[0].Seq, UUID: recs[0].UUID, Kind: sd.Kind, Envelope: string(sd.Envelope)})
		}
		return true
	})
	digestFile := filepath.Join(t.TempDir(), "digest.json")
	if err := os.WriteFile(digestFile, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	j.Close()
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := integrity.WriteKeysFile(keys, kr.PublicKeys()); err != nil {
		t.Fatal(err)
	}

	verify := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(t.Context(), append([]string{"verify"}, args...), strings.NewReader(""), &out, &errOut, func(string) string { return "" })
		return code, out.String() + errOut.String()
	}
	if code, out := verify("journal", "--data-dir", dir); code != 0 || !strings.Contains(out, "org acme: verified 251 events from 2026-12-04T10:00:00Z") {
		t.Fatalf("untouched: got %d %s", code, out)
	}
	if code, out := verify("journal", "--data-dir", dir, "--keys", keys, "--org", "acme", "--json"); code != 0 || !strings.Contains(out, `"events": 251`) {
		t.Fatalf("--keys --json: got %d %s", code, out)
	}

	j = journaltest.OpenWith(t, journal.Options{DataDir: dir})
	s, err := j.JetStream().Stream(t.Context(), j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	j.Close()
	code, out := verify("journal", "--data-dir", dir, "--keys", keys)
	if code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "broken-link at position") || !strings.Contains(out, "are missing") {
		t.Fatalf("after deleting a batch: got %d %s, want exit 1 naming the broken link and the missing events", code, out)
	}
	// Roll back: the newest batch and the digest go; the saved digest
	// shows it.
	j = journaltest.OpenWith(t, journal.Options{DataDir: dir})
	s, err = j.JetStream().Stream(t.Context(), j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	for seq := last - 1; seq <= last; seq++ {
		_ = s.DeleteMsg(t.Context(), seq)
	}
	j.Close()
	if code, out := verify("journal", "--data-dir", dir, "--digest", digestFile); code != 1 || !strings.Contains(out, "rolled-back") {
		t.Fatalf("rolled back, with the saved digest: got %d %s", code, out)
	}
	for _, args := range [][]string{nil, {"bogus"}, {"journal", "--server", "http://x", "--data-dir", dir}} {
		if code, out := verify(args...); code != 2 {
			t.Errorf("verify %v: got %d %s, want usage (2)", args, code, out)
		}
	}
}
