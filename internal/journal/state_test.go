package journal

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/health"
)

// fillJournal stores n events of about 400 bytes in a fresh journal at dir,
// closes it and returns how many messages hold them. It writes them
// uncompressed, so that each run lays out the same block (compressed
// sizes vary with the events' published times): whether damage at a given
// offset loses anything at start depends on what it hits.
func fillJournal(t *testing.T, dir string, n int) uint64 {
	t.Helper()
	j, err := Open(t.Context(), Options{DataDir: dir, Compression: CompressNone}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer j.Close()
	for b := 0; b < n/500; b++ {
		if _, err := j.Append(t.Context(), padEvents(t, fmt.Sprintf("cor-%d", b), 500, 300)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _, err := j.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func newestBlock(t *testing.T, dir string) string {
	t.Helper()
	blks, err := filepath.Glob(filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", DefaultStream, "msgs", "*.blk"))
	if err != nil || len(blks) == 0 {
		t.Fatalf("no message blocks under %s: %v", dir, err)
	}
	return blks[len(blks)-1]
}

func TestLostEventsReported(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, blk string)
	}{
		{"bytes flipped in the newest block", func(t *testing.T, blk string) {
			b, err := os.ReadFile(blk)
			if err != nil {
				t.Fatal(err)
			}
			n := len(b)
			for _, o := range []int{n / 3, n / 2, 2 * n / 3} {
				for k := range 16 {
					b[o+k] ^= 0xFF
				}
			}
			if err := os.WriteFile(blk, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"newest block truncated to half", func(t *testing.T, blk string) {
			fi, err := os.Stat(blk)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(blk, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			recorded := fillJournal(t, dir, 3000)
			tt.damage(t, newestBlock(t, dir))

			board := &health.Board{}
			var logged strings.Builder
			j, err := Open(t.Context(), Options{DataDir: dir, Health: board}, slog.New(slog.NewTextHandler(&logged, nil)))
			if err != nil {
				t.Fatalf("open after damage: %v", err)
			}
			msgs, _, err := j.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := recorded - msgs
			if want == 0 {
				j.Close()
				t.Fatal("the damage lost nothing; the test needs a loss")
			}
			if got := j.LostTotal(); got != want {
				t.Errorf("lost: got %d, want %d (%d recorded, %d left)", got, want, recorded, msgs)
			}
			if !strings.Contains(logged.String(), "level=ERROR msg=\"journal lost events") || !strings.Contains(logged.String(), fmt.Sprintf("lost=%d", want)) {
				t.Errorf("log: got %s, want an ERROR line with lost=%d", logged.String(), want)
			}
			c := board.Conditions()
			if len(c) != 1 || c[0].Name != ConditionLost || c[0].Level != health.Degraded || !strings.Contains(c[0].Message, fmt.Sprint(want)) {
				t.Errorf("conditions: got %+v, want journal.lost degraded with the count", c)
			}
			j.Close()

			// Unacknowledged, the loss survives a restart (and is not counted twice).
			board = &health.Board{}
			j, err = Open(t.Context(), Options{DataDir: dir, Health: board}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if l, ok := j.LostEvents(); !ok || l.Count != want || j.LostTotal() != 0 {
				t.Errorf("after restart: got %+v %v, new %d; want the same loss of %d, nothing new", l, ok, j.LostTotal(), want)
			}
			if board.Ready() && len(board.Conditions()) != 1 {
				t.Errorf("after restart: got %+v, want journal.lost still set", board.Conditions())
			}
			l, ok, err := j.AcknowledgeLost()
			if err != nil || !ok || l.Count != want {
				t.Errorf("acknowledge: got %+v %v %v, want the loss of %d", l, ok, err, want)
			}
			if len(board.Conditions()) != 0 {
				t.Errorf("after acknowledge: got %+v, want no condition", board.Conditions())
			}
			j.Close()
			board = &health.Board{}
			j, err = Open(t.Context(), Options{DataDir: dir, Health: board}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if _, ok := j.LostEvents(); ok || len(board.Conditions()) != 0 {
				t.Errorf("after acknowledge and restart: got %+v, want no loss", board.Conditions())
			}
		})
	}
}

// Restarts that lose nothing, or drop old events under a smaller cap,
// report no loss.
func TestNoFalseLoss(t *testing.T) {
	dir := t.TempDir()
	fillJournal(t, dir, 3000)
	board := &health.Board{}
	j, err := Open(t.Context(), Options{DataDir: dir, Health: board}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if j.LostTotal() != 0 || len(board.Conditions()) != 0 {
		t.Fatalf("clean restart: got %d lost, %+v; want none", j.LostTotal(), board.Conditions())
	}
	j.Close()
	j, err = Open(t.Context(), Options{DataDir: dir, Health: board, MaxBytes: 200 << 10}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// JetStream no longer drops old events at the cap (DiscardNew):
	// retention (stream.Retention) purges them, as here.
	if _, err := j.Purge(t.Context(), "", 2500); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, err = Open(t.Context(), Options{DataDir: dir, Health: board, MaxBytes: 200 << 10}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	msgs, _, _ := j.Info(t.Context())
	if msgs >= 3000 {
		t.Fatalf("the smaller cap dropped nothing (%d events); the test needs a drop", msgs)
	}
	if j.LostTotal() != 0 || len(board.Conditions()) != 0 {
		t.Fatalf("restart under a smaller cap: got %d lost, %+v; want none (retention)", j.LostTotal(), board.Conditions())
	}
}

func TestLostCount(t *testing.T) {
	rec := stateRecord{FirstSeq: 1, LastSeq: 3000, Msgs: 3000}
	tests := []struct {
		name                   string
		curFirst, curMsgs, new uint64
		retention              bool
		want                   uint64
	}{
		{"intact", 1, 3000, 0, false, 0},
		{"tail lost", 1, 1000, 0, false, 2000},
		{"tail lost, newer events after a crash", 1, 1010, 10, false, 2000},
		{"old end gone without retention", 1001, 2000, 0, false, 1000},
		{"old end dropped by retention", 1001, 2000, 0, true, 0},
		{"old end dropped by retention and tail lost", 1001, 1500, 0, true, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lostCount(rec, tt.curFirst, tt.curMsgs, tt.new, tt.retention); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// After JetStream repaired a damaged block at start, its last sequence is
// no longer its last stored message: appends still work (the writer's
// fence expects the last sequence it read, which the server refuses once;
// the writer then appends once without it) and new events are read back.
func TestAppendAfterRepairedStore(t *testing.T) {
	dir := t.TempDir()
	fillJournal(t, dir, 3000)
	blk := newestBlock(t, dir)
	b, err := os.ReadFile(blk)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []int{len(b) / 3, len(b) / 2, 2 * len(b) / 3} {
		for k := range 1024 {
			b[o+k] ^= 0xFF
		}
	}
	if err := os.WriteFile(blk, b, 0o600); err != nil {
		t.Fatal(err)
	}
	j := openTest(t, dir)
	defer j.Close()
	for round := range 3 {
		evs := padEvents(t, fmt.Sprintf("after-%d", round), 150, 10)
		res, err := j.Append(t.Context(), evs)
		if err != nil || res.Stored != len(evs) {
			t.Fatalf("append %d after the repair: got %+v, %v; want %d stored", round, res, err, len(evs))
		}
	}
	got := 0
	for u := range uuidsIn(t, j) {
		if strings.HasPrefix(u, "after-") {
			got++
		}
	}
	if got != 450 {
		t.Errorf("got %d events appended after the repair, want 450", got)
	}
}
