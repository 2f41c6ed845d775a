package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/nats-io/nats.go/jetstream"
)

// kvHeadroom is store space kept beyond the streams' caps for the
// key-value buckets (configuration, tokens, status, checkpoints) and the
// consumers' state, which have no byte cap of their own.
const kvHeadroom = 256 << 20

// DiskSpace reports the free and total bytes of the file system holding
// dir. Options.DiskSpace replaces it in tests.
type DiskSpace func(dir string) (free, total uint64, err error)

// statfsSpace is the DiskSpace of the running system: the bytes an
// unprivileged process may still write, and the file system's size.
func statfsSpace(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}

// dirBytes sums the sizes of the files under dir (0 if it does not exist).
func dirBytes(dir string) uint64 {
	var n uint64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += uint64(info.Size())
		}
		return nil
	})
	return n
}

// storeSizing is how the embedded JetStream store is sized at start.
type storeSizing struct {
	// MaxStore is JetStreamMaxStore.
	MaxStore int64
	// Free and Used are the file system's free bytes and what the store
	// already occupies; Total is the file system's size.
	Free, Used, Total uint64
	// Warning, when set, says that the caps exceed what the disk can hold
	// (for the log); Condition says it without the directory (for the
	// public /readyz).
	Warning, Condition string
}

// sizeStore chooses JetStreamMaxStore. Left to itself, embedded JetStream
// reserves every stream's MaxBytes against 75% of the disk free at start,
// so the defaults (10 GiB journal + 1 GiB dead letters) refused to start
// on a small disk, and a service that ran refused to restart once other
// files grew. Here the store limit is the sum of the caps (plus headroom
// for the buckets), so a start never depends on free space; when the caps
// exceed the free space plus what the store already holds, it warns: the
// disk will fill before the caps apply, and ingest then answers 507 until
// space is freed (see Append). Without a journal cap the limit is the file
// system's size: the disk is the cap.
//
// Streams already on disk keep their old reservation until they are
// updated, one at a time, so each stream counts with the larger of its old
// and new cap: lowering journal.maxBytes on a small disk then starts too.
func sizeStore(storeDir, journalStream string, journalMax, deadMax int64, space DiskSpace) (storeSizing, error) {
	return sizeStoreParts(storeDir, []string{journalStream}, journalMax, deadMax, space)
}

// sizeStoreParts is sizeStore for a journal of several partitions, whose
// streams share journalMax evenly.
func sizeStoreParts(storeDir string, journalStreams []string, journalMax, deadMax int64, space DiskSpace) (storeSizing, error) {
	free, total, err := space(storeDir)
	if err != nil {
		return storeSizing{}, err
	}
	s := storeSizing{Free: free, Total: total, Used: dirBytes(storeDir)}
	caps := int64(deadMax) + kvHeadroom
	if journalMax > 0 {
		caps += journalMax
	}
	reserve := int64(kvHeadroom)
	old := reservedOnDisk(storeDir)
	caps2 := map[string]int64{DefaultDeadLetterStream: deadMax}
	for _, name := range journalStreams {
		caps2[name] = partitionCap(journalMax, len(journalStreams))
	}
	for name, c := range caps2 {
		reserve += max(c, old[name], 0)
		delete(old, name)
	}
	for _, c := range old {
		reserve += c
	}
	s.MaxStore = reserve
	if journalMax <= 0 {
		s.MaxStore = max(int64(total), reserve)
	}
	if avail := s.Free + s.Used; journalMax > 0 && uint64(caps) > avail {
		s.Warning = fmt.Sprintf("journal.maxBytes (%s) + the dead-letter cap (%s) + %s for state exceed the space the journal can use at %s (%s free + %s already stored): the disk will fill before the caps apply, and ingest will then answer 507 until space is freed; lower journal.maxBytes or give the journal more disk",
			human(journalMax), human(deadMax), human(kvHeadroom), storeDir, human(int64(s.Free)), human(int64(s.Used)))
		s.Condition = fmt.Sprintf("journal.maxBytes (%s) and the dead-letter cap (%s) exceed the disk space the journal can use (%s): the disk will fill before the caps apply; lower journal.maxBytes",
			human(journalMax), human(deadMax), human(int64(s.Free+s.Used)))
	}
	return s, nil
}

// reservedOnDisk reads the MaxBytes of the streams already in the store
// (their meta.inf), by stream name.
func reservedOnDisk(storeDir string) map[string]int64 {
	out := map[string]int64{}
	metas, _ := filepath.Glob(filepath.Join(storeDir, "jetstream", "*", "streams", "*", "meta.inf"))
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var cfg struct {
			Name     string `json:"name"`
			MaxBytes int64  `json:"max_bytes"`
		}
		if json.Unmarshal(b, &cfg) == nil && cfg.MaxBytes > 0 {
			out[cfg.Name] += cfg.MaxBytes
		}
	}
	return out
}

// ErrInsufficientStorage marks an Open that failed because JetStream
// refused to reserve the streams' caps (NATS err_code 10047).
var ErrInsufficientStorage = errors.New("insufficient storage for the journal's caps")

// NATS error codes for a store that cannot take more (nats-server's
// JSStorageResourcesExceededErr and JSInsufficientResourcesErr).
const (
	codeStorageExceeded       jetstream.ErrorCode = 10047
	codeInsufficientResources jetstream.ErrorCode = 10023
)

// isInsufficientStorage reports NATS's "insufficient storage resources
// available" (10047) or "insufficient resources" (10023).
func isInsufficientStorage(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == codeStorageExceeded || apiErr.ErrorCode == codeInsufficientResources
	}
	return false
}

// storageError explains a stream creation JetStream refused for lack of
// storage, naming the settings an operator can change.
func (j *Journal) storageError(stream string, err error) error {
	if j.srv == nil {
		// Every replica reserves both caps on its own server.
		return fmt.Errorf("%w: create stream %s: journal.maxBytes (%s) + the dead-letter cap (%s) are reserved on each of "+
			"journal.replicas = %d servers of the NATS cluster at %s and do not fit a server's JetStream max_file_store; "+
			"lower journal.maxBytes or journal.deadLetters.maxBytes, or raise max_file_store: %v",
			ErrInsufficientStorage, stream, j.maxBytesText(), human(j.opts.DeadLetterMaxBytes), j.opts.Replicas, j.opts.URL, err)
	}
	where := fmt.Sprintf("%s (%s free, JetStream store limit %s)", j.storeDir, human(int64(j.sizing.Free)), human(j.sizing.MaxStore))
	return fmt.Errorf("%w: create stream %s: journal.maxBytes (%s) + the dead-letter cap (%s) do not fit %s; lower journal.maxBytes or free disk space: %v",
		ErrInsufficientStorage, stream, j.maxBytesText(), human(j.opts.DeadLetterMaxBytes), where, err)
}

// maxBytesText is journal.maxBytes for a message, with its split over the
// partitions when there are several.
func (j *Journal) maxBytesText() string {
	if n := len(j.parts); n > 1 && j.opts.MaxBytes > 0 {
		return fmt.Sprintf("%s, split over journal.partitions = %d streams of %s", human(j.opts.MaxBytes), n, human(partitionCap(j.opts.MaxBytes, n)))
	}
	return human(j.opts.MaxBytes)
}

// human writes a byte count with a binary unit and, from a KiB on, the
// exact count; a negative one is unlimited.
func human(n int64) string {
	switch {
	case n < 0:
		return "unlimited"
	case n < 1024:
		return FormatBytes(n)
	}
	return fmt.Sprintf("%s (%d bytes)", FormatBytes(n), n)
}

// FormatBytes writes a byte count with a binary unit, one decimal from a
// KiB on: "512 B", "1.5 KiB", "2.0 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
