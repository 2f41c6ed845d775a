package journal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/auditstream/auditstream/internal/disktest"
	"github.com/auditstream/auditstream/internal/health"
)

func fixedSpace(free, total uint64) DiskSpace {
	return func(string) (uint64, uint64, error) { return free, total, nil }
}

func TestSizeStore(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name         string
		journal      int64
		free, total  uint64
		wantMaxStore int64
		wantWarning  bool
	}{
		{"defaults on a big disk", DefaultMaxBytes, 100 * gib, 200 * gib, DefaultMaxBytes + DefaultDeadLetterMaxBytes + kvHeadroom, false},
		{"defaults on a 16 GB disk start, with a warning", DefaultMaxBytes, 8 * gib, 16 * gib, DefaultMaxBytes + DefaultDeadLetterMaxBytes + kvHeadroom, true},
		{"no journal cap: the disk is the cap", -1, 8 * gib, 16 * gib, 16 * gib, false},
		{"no journal cap on a tiny disk: at least the other caps", -1, 1 << 20, 64 << 20, DefaultDeadLetterMaxBytes + kvHeadroom, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sizeStore(t.TempDir(), DefaultStream, tt.journal, DefaultDeadLetterMaxBytes, fixedSpace(tt.free, tt.total))
			if err != nil {
				t.Fatal(err)
			}
			if s.MaxStore != tt.wantMaxStore {
				t.Errorf("MaxStore: got %d, want %d", s.MaxStore, tt.wantMaxStore)
			}
			if (s.Warning != "") != tt.wantWarning {
				t.Errorf("warning: got %q, want one: %v", s.Warning, tt.wantWarning)
			}
			if tt.wantWarning && !strings.Contains(s.Warning, "journal.maxBytes (10.0 GiB") {
				t.Errorf("warning: got %q, want it to name journal.maxBytes and its value", s.Warning)
			}
		})
	}
}

// The defaults (10 GiB journal, 1 GiB dead letters) start on a disk with
// 100 MiB free, report the sizing as degraded, and restart after other
// files took most of what was left.
func TestOpenOnSmallDisk(t *testing.T) {
	dir := t.TempDir()
	free := uint64(100 << 20)
	space := func(string) (uint64, uint64, error) { return free, 200 << 20, nil }
	board := &health.Board{}
	j, err := Open(t.Context(), Options{DataDir: dir, Health: board, DiskSpace: space}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open with 100 MiB free: %v", err)
	}
	if _, err := j.Append(t.Context(), padEvents(t, "small", 100, 500)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	c := board.Conditions()
	if len(c) != 1 || c[0].Name != ConditionSizing || c[0].Level != health.Degraded || !strings.Contains(c[0].Message, "journal.maxBytes (10.0 GiB") {
		t.Fatalf("conditions: got %+v, want journal.sizing degraded naming journal.maxBytes", c)
	}
	if strings.Contains(c[0].Message, dir) {
		t.Errorf("condition %q: names the data dir, which /readyz shows to anyone", c[0].Message)
	}
	free = 1 << 20
	j, err = Open(t.Context(), Options{DataDir: dir, DiskSpace: space}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("restart with 1 MiB free: %v", err)
	}
	j.Close()
}

// The same on a real 64 MiB disk (tmpfs).
func TestOpenDefaultsOnTmpfs(t *testing.T) {
	if disktest.Reexec(t) {
		return
	}
	mnt := disktest.Mount(t, 64<<20)
	j, err := Open(t.Context(), Options{DataDir: filepath.Join(mnt, "data")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open with defaults on a 64 MiB disk: %v", err)
	}
	j.Close()
	disktest.Fill(t, filepath.Join(mnt, "other-files"), 2<<20)
	j, err = Open(t.Context(), Options{DataDir: filepath.Join(mnt, "data")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("restart after other files filled the disk: %v", err)
	}
	j.Close()
	if err := os.Remove(filepath.Join(mnt, "other-files")); err != nil {
		t.Fatal(err)
	}
}

// When JetStream cannot reserve the caps (an external server's limit, or
// here a store limit forced small), the error names the settings.
func TestInsufficientStorageNamesSettings(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(t.Context(), Options{DataDir: dir, MaxBytes: 1 << 30, maxStore: 64 << 20,
		DiskSpace: fixedSpace(50<<20, 100<<20)}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrInsufficientStorage) {
		t.Fatalf("got %v, want ErrInsufficientStorage", err)
	}
	for _, want := range []string{"journal.maxBytes (1.0 GiB", "dead-letter cap (1.0 GiB", "50.0 MiB", filepath.Join(dir, "jetstream"), "10047"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to contain %q", err, want)
		}
	}
	// The lock was released: the directory opens with sane settings.
	j, err := Open(t.Context(), Options{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open after the failure: %v", err)
	}
	j.Close()
	_ = fmt.Sprint
}

// On a cluster whose servers cannot hold the caps, the error of a
// partitioned journal names journal.maxBytes, its split over the
// partitions, the replicas and max_file_store.
func TestInsufficientStorageNamesPartitions(t *testing.T) {
	srv := journaltestStartNATS(t, 64<<20)
	_, err := Open(t.Context(), Options{URL: srv.ClientURL(), MaxBytes: 3 << 30, Partitions: 3}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrInsufficientStorage) {
		t.Fatalf("got %v, want ErrInsufficientStorage", err)
	}
	for _, want := range []string{"journal.maxBytes (3.0 GiB", "split over journal.partitions = 3 streams of 1.0 GiB", "journal.replicas = 1", "max_file_store", "AUDIT_P0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to contain %q", err, want)
		}
	}
}

// journaltestStartNATS starts a nats-server with a JetStream store limit
// (journaltest cannot be imported here: it imports this package).
func journaltestStartNATS(t *testing.T, maxStore int64) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, NoSigs: true,
		StoreDir: t.TempDir(), JetStreamMaxStore: maxStore, MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// TestFormatBytes: the console's byte counts and the journal's sizing
// messages (human adds the exact count, and "unlimited" for -1).
func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n           int64
		want, human string
	}{
		{-1, "-1 B", "unlimited"},
		{0, "0 B", "0 B"},
		{1023, "1023 B", "1023 B"},
		{1536, "1.5 KiB", "1.5 KiB (1536 bytes)"},
		{5 << 30, "5.0 GiB", "5.0 GiB (5368709120 bytes)"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d): got %q, want %q", tt.n, got, tt.want)
		}
		if got := human(tt.n); got != tt.human {
			t.Errorf("human(%d): got %q, want %q", tt.n, got, tt.human)
		}
	}
}
