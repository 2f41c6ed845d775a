package filesink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/exportdigest"
)

// fileStats are what a digest says of a file's events.
type fileStats struct {
	events      int
	first, last uint64
	from, to    time.Time
}

func (st *fileStats) add(r event.Record) {
	if st.events == 0 {
		st.first = r.Seq
	}
	st.events++
	st.last = r.Seq
	p := r.Published.UTC()
	if st.from.IsZero() || p.Before(st.from) {
		st.from = p
	}
	if p.After(st.to) {
		st.to = p
	}
}

// startDigests makes the digest writer, on the first Write: digests go to
// <dir>/_digest/, written through a handle of the directory of their own
// (the writer's goroutine must not share the sink's, which a failed
// create closes).
func (s *Sink) startDigests(ctx context.Context) {
	if s.signer == nil || s.cfg.Digests.Off || s.digests != nil {
		return
	}
	root, err := s.dir()
	if err == nil {
		root, err = root.OpenRoot(".")
	}
	if err != nil {
		s.log.Error("digests not started: cannot open the directory; retrying at the next write", "err", err)
		return
	}
	s.digestRoot = root
	s.digests = exportdigest.NewWriter(
		exportdigest.Config{Stream: s.deps.Stream, Interval: s.cfg.Digests.IntervalOrDefault()},
		exportdigest.Deps{
			Store: exportdigest.NewDirStore(root), Signer: s.signer, Logger: s.log, Now: s.now,
			Data:     func(key string) bool { return s.isData(key) },
			Describe: func(key string, body []byte) exportdigest.Entry { return s.describe(key, body) },
			Report: func(err error) {
				if s.reportDigests != nil {
					s.reportDigests(err)
				}
			},
			Fenced: func() bool { return s.fenced != nil && s.fenced() },
		})
	if err := s.digests.Recover(ctx); err != nil {
		s.log.Error("cannot find where the stream's digests stand; retrying before the next digest", "err", err)
	}
	for _, f := range s.recoveredFiles {
		s.digested(f, fileStats{})
	}
	s.recoveredFiles = nil
	s.digests.Start()
}

// isData reports whether key is a finished file of this sink's prefix.
func (s *Sink) isData(key string) bool {
	return !strings.Contains(key, "/") && strings.HasPrefix(key, s.cfg.Prefix+"-") && strings.HasSuffix(key, finalSuffix)
}

// IsData reports whether a key of a file stream's directory is a finished
// file of events (of any prefix): what `auditstream verify dir` checks.
func IsData(key string) bool {
	return !strings.Contains(key, "/") && !strings.HasPrefix(key, ".") && strings.HasSuffix(key, finalSuffix)
}

// describe reads a finished file found after a restart: its lines, the
// journal position of its first event (from its name) and its events'
// published times.
func (s *Sink) describe(key string, body []byte) exportdigest.Entry {
	var e exportdigest.Entry
	rest := strings.TrimPrefix(key, s.cfg.Prefix+"-")
	if len(rest) > len(timeLayout)+21 {
		if seq, err := strconv.ParseUint(rest[len(timeLayout)+1:len(timeLayout)+21], 10, 64); err == nil {
			e.FirstPosition = seq
		}
	}
	for line := range bytes.SplitSeq(body, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e.Events++
		var ev struct {
			Published time.Time `json:"published"`
		}
		if json.Unmarshal(line, &ev) == nil && !ev.Published.IsZero() {
			p := ev.Published.UTC()
			if e.FirstPublished.IsZero() || p.Before(e.FirstPublished) {
				e.FirstPublished = p
			}
			if p.After(e.LastPublished) {
				e.LastPublished = p
			}
		}
	}
	return e
}

// digested lists a file just finished in the next digest: its bytes are
// read back for the SHA-256.
func (s *Sink) digested(final string, st fileStats) {
	if s.digests == nil {
		return
	}
	body, err := s.root.ReadFile(final)
	if err != nil {
		s.log.Error("cannot read a finished file back for its digest; it is in no digest", "file", s.file(final), "err", err)
		return
	}
	e := exportdigest.Entry{
		Key: final, SHA256: exportdigest.Hash(body), Size: int64(len(body)), Events: st.events,
		FirstPosition: st.first, LastPosition: st.last, FirstPublished: st.from, LastPublished: st.to,
	}
	if st.events == 0 { // a file recovered after a crash
		e = s.describe(final, body)
		e.Key, e.SHA256, e.Size = final, exportdigest.Hash(body), int64(len(body))
	}
	s.digests.Add(e)
}

// touch sets a file's times to now before it is finished, so that a
// restart's recovery (which looks for files modified since the last
// digest) sees a file finished after a digest even when its last line was
// written before it.
func (s *Sink) touch(name string) error {
	now := time.Now()
	if err := s.root.Chtimes(name, now, now); err != nil {
		return fmt.Errorf("finish %s: %w", s.file(name), err)
	}
	return nil
}
