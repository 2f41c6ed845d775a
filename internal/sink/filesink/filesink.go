package filesink

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/sink"
)

const (
	// maxBatchEvents and maxBatchBytes bound a batch: large enough that
	// the per-batch fsync is cheap per event, small enough to hold in
	// memory.
	maxBatchEvents = 10000
	maxBatchBytes  = 8 << 20
	// bufferBytes is the write buffer in front of each file.
	bufferBytes = 64 << 10

	partSuffix  = ".ndjson.part"
	finalSuffix = ".ndjson"
	timeLayout  = "20060102T150405Z"
)

// Sink writes batches to NDJSON files. Build it with New.
type Sink struct {
	cfg   Config
	fsync bool
	log   *slog.Logger
	now   func() time.Time
	deps  sink.Deps

	// base, when set, is the directory Dir is relative to (a tenant's
	// directory under fileRoots, from Deps.Egress.PlaceDir). The sink then
	// creates and opens Dir one component at a time, each through the
	// directory before it, never following a symbolic link and never
	// leaving base.
	base string
	path string // the directory as logs and errors name it
	// root is the directory, opened once: every file is created, renamed
	// and removed relative to it, so a directory swapped for a symbolic
	// link after it was opened cannot redirect the writes.
	root *os.Root

	cur       *file // the open .part file, nil between files
	recovered bool  // leftover .part files were finished
	closed    bool

	// signer, when set (sink.Deps.Signer), makes the sink list every
	// finished file in signed digests (digests.go); digests and its own
	// handle of the directory are made by the first Write.
	signer     exportdigest.Signer
	digests    *exportdigest.Writer
	digestRoot *os.Root
	// recoveredFiles were finished by recoverParts, for the first digest.
	recoveredFiles []string
	// reportDigests, set by ReportDigests before the first Write, is told
	// each digest attempt's outcome.
	reportDigests func(error)
	// fenced, set by FenceDigests before the first Write, stops digests
	// once the stream's lease ran out.
	fenced func() bool

	// afterSync, when set by tests, is called after each fsync of a file.
	afterSync func(path string)
}

// file is the file being written.
type file struct {
	f      *os.File
	w      *bufio.Writer
	part   string // name while written, in the directory
	final  string // name once finished
	size   int64  // bytes handed to w
	start  int64  // size when the current batch began, where a failure cuts back to
	opened time.Time
	// stats are the file's events, startStats those when the current
	// batch began (for a cut back).
	stats, startStats fileStats
}

var _ sink.Sink = (*Sink)(nil)

// ErrForbiddenDir wraps the error of Deps.Egress when it refuses Dir.
var ErrForbiddenDir = errors.New("directory not allowed")

// Type is the "file" row of the stream type table.
func Type() sink.Type { return sink.NewType("file", prepare, build) }

// New checks cfg, applies its defaults and returns a sink for it. It
// touches nothing on disk: the directory is created by the first Write
// (or by Verify).
func New(cfg Config, deps sink.Deps) (*Sink, error) { return sink.Build(cfg, deps, prepare, build) }

// placed is a checked Config with where it writes: base, when not "", is
// the directory Dir is relative to; path is the directory as logs and
// errors name it.
type placed struct {
	cfg        Config
	base, path string
}

// prepare applies cfg's defaults, places Dir with deps.Egress and checks
// it.
func prepare(cfg Config, deps sink.Deps) (placed, error) {
	cfg = cfg.withDefaults()
	base, dir, err := deps.PlaceDir(cfg.Dir)
	if err != nil {
		return placed{}, err
	}
	cfg.Dir = dir
	check := cfg
	path := filepath.Clean(cfg.Dir)
	if base != "" {
		if cfg.Dir != "" && (filepath.IsAbs(cfg.Dir) || !filepath.IsLocal(cfg.Dir)) {
			return placed{}, fmt.Errorf("file sink config: dir %q: want a path relative to your directory, without \"..\"", cfg.Dir)
		}
		path = filepath.Join(base, cfg.Dir)
		if cfg.Dir != "" {
			check.Dir = path
		}
	}
	if err := check.Validate(); err != nil {
		return placed{}, fmt.Errorf("file sink config: %w", err)
	}
	cfg.Dir = filepath.Clean(cfg.Dir)
	if err := allowed(deps, cfg.Dir, path); err != nil {
		return placed{}, err
	}
	return placed{cfg: cfg, base: base, path: path}, nil
}

func build(p placed, deps sink.Deps) (*Sink, error) {
	return &Sink{cfg: p.cfg, fsync: *p.cfg.Fsync, log: deps.Logger, now: deps.Now, deps: deps, base: p.base, path: p.path, signer: deps.Signer}, nil
}

// allowed asks deps.Egress whether path (the directory dir names) may be
// written.
func allowed(deps sink.Deps, dir, path string) error {
	if err := deps.CheckDir(path); err != nil {
		return fmt.Errorf("%s: %w: %w", dir, ErrForbiddenDir, err)
	}
	return nil
}

func (s *Sink) allowed() error { return allowed(s.deps, s.cfg.Dir, s.path) }

// dir returns the directory, creating and opening it on first use.
func (s *Sink) dir() (*os.Root, error) {
	if s.root != nil {
		return s.root, nil
	}
	if err := s.allowed(); err != nil {
		return nil, sink.Misconfigured(err)
	}
	var r *os.Root
	var err error
	if s.base == "" {
		if err := os.MkdirAll(s.path, 0o750); err != nil {
			return nil, fmt.Errorf("create directory: %w", err)
		}
		r, err = os.OpenRoot(s.path)
	} else {
		r, err = openBelow(s.base, s.cfg.Dir)
	}
	if errors.Is(err, ErrLink) {
		return nil, sink.Misconfigured(fmt.Errorf("open directory: %w", err))
	}
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	s.root = r
	return r, nil
}

// dropDir forgets the open directory after a failure to create a file in
// it (removed, say), so the next attempt opens the path again, with every
// check again.
func (s *Sink) dropDir() {
	if s.root != nil {
		_ = s.root.Close()
		s.root = nil
	}
}

// ErrLink is returned when a component of a directory below Base is a
// symbolic link.
var ErrLink = errors.New("is a symbolic link, which file streams do not follow")

// openBelow opens base/rel, creating missing directories, one component
// at a time through the directory before it: a component that is a
// symbolic link is refused, and one swapped for a link between the check
// and the opening still cannot lead out of its parent (os.Root).
func openBelow(base, rel string) (*os.Root, error) {
	cur, err := os.OpenRoot(base)
	if err != nil {
		return nil, err
	}
	for _, name := range strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/") {
		if name == "." || name == "" {
			continue
		}
		info, err := cur.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			err = cur.Mkdir(name, 0o750)
			if err == nil || errors.Is(err, fs.ErrExist) {
				info, err = cur.Lstat(name)
			}
		}
		if err == nil && info.Mode()&fs.ModeSymlink != 0 {
			err = fmt.Errorf("%s %w", name, ErrLink)
		}
		var next *os.Root
		if err == nil {
			next, err = cur.OpenRoot(name)
		}
		_ = cur.Close()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// Limits bounds batches to 10,000 events and 8 MiB.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: maxBatchEvents, MaxBytes: maxBatchBytes, MaxEventBytes: maxBatchBytes}
}

// EncodedSize is the event and its newline.
func (s *Sink) EncodedSize(r event.Record) int { return len(r.Data) + 1 }

// Write appends b's events to the current file, starting new files as
// maxBytes and maxAge require, and flushes (and with fsync, syncs) before
// it returns. On failure the current file is cut back to where the batch
// started.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed, "file"); skip {
		return err
	}
	if !s.recovered {
		if err := s.recoverParts(); err != nil {
			return classify(err)
		}
		s.recovered = true
	}
	s.startDigests(ctx)
	if s.cur != nil && s.now().Sub(s.cur.opened) >= s.cfg.MaxAge.D() {
		if err := s.finish(); err != nil {
			return classify(err)
		}
	}
	if s.cur != nil {
		s.cur.start, s.cur.startStats = s.cur.size, s.cur.stats
	}
	if err := s.write(b); err != nil {
		s.abort()
		return classify(err)
	}
	return nil
}

func (s *Sink) write(b sink.Batch) error {
	for _, r := range b.Records {
		n := int64(len(r.Data)) + 1
		if s.cur != nil && s.cur.size > 0 && s.cur.size+n > s.cfg.MaxBytes {
			if err := s.finish(); err != nil {
				return err
			}
		}
		if s.cur == nil {
			if err := s.open(r.Seq); err != nil {
				return err
			}
		}
		if _, err := s.cur.w.Write(r.Data); err != nil {
			return fmt.Errorf("write %s: %w", s.file(s.cur.part), err)
		}
		if err := s.cur.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write %s: %w", s.file(s.cur.part), err)
		}
		s.cur.size += n
		s.cur.stats.add(r)
	}
	return s.flush()
}

// flush pushes buffered bytes to the current file and, with fsync on,
// to disk.
func (s *Sink) flush() error {
	c := s.cur
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.file(c.part), err)
	}
	if !s.fsync {
		return nil
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.file(c.part), err)
	}
	if s.afterSync != nil {
		s.afterSync(s.file(c.part))
	}
	return nil
}

// open starts a new .part file named after now and seq.
func (s *Sink) open(seq uint64) error {
	root, err := s.dir()
	if err != nil {
		return err
	}
	now := s.now()
	base := fmt.Sprintf("%s-%s-%020d", s.cfg.Prefix, now.UTC().Format(timeLayout), seq)
	// A replay can start a file with the same second and seq as an
	// earlier one: number it rather than overwrite.
	for i := 1; i < 1000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		final := name + finalSuffix
		if _, err := root.Lstat(final); err == nil {
			continue
		}
		part := name + partSuffix
		f, err := root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			s.dropDir()
			return fmt.Errorf("create file in %s: %w", s.path, err)
		}
		if err := s.syncDir(); err != nil {
			_ = f.Close()
			_ = root.Remove(part)
			return err
		}
		s.cur = &file{f: f, w: bufio.NewWriterSize(f, bufferBytes), part: part, final: final, opened: now}
		return nil
	}
	return fmt.Errorf("create file: too many files named %s*", base)
}

// finish completes the current file: flush, sync, close, rename.
func (s *Sink) finish() error {
	c := s.cur
	if c == nil {
		return nil
	}
	if err := s.flush(); err != nil {
		return err
	}
	s.cur = nil
	if err := c.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.file(c.part), err)
	}
	if s.digests != nil {
		if err := s.touch(c.part); err != nil {
			return err
		}
	}
	if err := s.root.Rename(c.part, c.final); err != nil {
		return fmt.Errorf("finish %s: %w", s.file(c.part), err)
	}
	if err := s.syncDir(); err != nil {
		return err
	}
	s.digested(c.final, c.stats)
	s.log.Info("finished file", "file", s.file(c.final), "bytes", c.size)
	return nil
}

// abort gives up the current file after a failed write: it cuts the file
// back to where the batch started and finishes it, or removes it when
// nothing remains. A file that cannot be cut is left as .part for the next
// sink's recovery.
func (s *Sink) abort() {
	c := s.cur
	if c == nil {
		return
	}
	s.cur = nil
	mark := c.start
	// c.w is dropped unflushed; what it did flush is cut off here.
	cut := c.f.Truncate(mark)
	if cut == nil {
		cut = c.f.Sync()
	}
	if err := c.f.Close(); err != nil && cut == nil {
		cut = err
	}
	switch {
	case cut != nil:
		s.log.Warn("left a partly written file for recovery", "file", s.file(c.part), "err", cut)
	case mark == 0:
		_ = s.root.Remove(c.part)
	default:
		if s.digests != nil {
			_ = s.touch(c.part)
		}
		if err := s.root.Rename(c.part, c.final); err != nil {
			s.log.Warn("left a partly written file for recovery", "file", s.file(c.part), "err", err)
		} else {
			s.digested(c.final, c.startStats)
		}
	}
}

// syncDir makes creations and renames in the directory durable.
func (s *Sink) syncDir() error {
	if !s.fsync {
		return nil
	}
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // some file systems cannot sync directories
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// Verify checks that Dir exists or can be created and takes a file, by
// creating and removing a hidden temporary file. It writes no events.
func (s *Sink) Verify(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.allowed(); err != nil {
		return sink.Misconfigured(err)
	}
	root, err := s.dir()
	if err != nil {
		return classify(err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf(".verify-%x", rnd)
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return classify(fmt.Errorf("create a file: %w", err))
	}
	_, werr := f.Write([]byte("{}\n"))
	cerr := f.Close()
	rerr := root.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return classify(fmt.Errorf("write a file: %w", err))
	}
	return nil
}

// ReportDigests implements sink.DigestReporter; call it before the first
// Write.
func (s *Sink) ReportDigests(report func(error)) { s.reportDigests = report }

// FenceDigests implements sink.DigestFencer; call it before the first
// Write.
func (s *Sink) FenceDigests(fenced func() bool) { s.fenced = fenced }

// Close finishes the current file and, with digests on, writes a last
// digest. It may be called more than once.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	defer s.dropDir()
	err := s.finish()
	if err != nil {
		if s.cur != nil {
			_ = s.cur.f.Close()
			s.cur = nil
		}
		err = fmt.Errorf("file sink close: %w", err)
	}
	if s.digests != nil {
		if derr := s.digests.Close(ctx); errors.Is(derr, exportdigest.ErrFenced) {
			s.log.Warn("last digest not written: the stream's lease ran out; its next owner's digest lists the files")
		} else if derr != nil {
			s.log.Error("last digest not written: the files since the previous digest are in none until the stream writes again", "err", derr)
			err = errors.Join(err, fmt.Errorf("last digest: %w", derr))
		}
		_ = s.digestRoot.Close()
	}
	return err
}

// file is name in the directory, as logs name it.
func (s *Sink) file(name string) string { return filepath.Join(s.path, name) }

// classify marks errors only an operator can fix as configuration errors; all
// others (a full disk, I/O errors) are retried.
func classify(err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
		return sink.Misconfigured(err)
	}
	return err
}
