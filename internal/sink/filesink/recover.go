package filesink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// recoverParts finishes .part files of this prefix left by an earlier
// sink that did not close: each is cut after its last complete line and
// renamed, or removed when no complete line remains.
func (s *Sink) recoverParts() error {
	root, err := s.dir()
	if err != nil {
		return err
	}
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("list directory: %w", err)
	}
	entries, err := d.ReadDir(-1)
	_ = d.Close()
	if err != nil {
		return fmt.Errorf("list directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, s.cfg.Prefix+"-") || !strings.HasSuffix(name, partSuffix) {
			continue
		}
		if err := s.recoverPart(name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) recoverPart(part string) error {
	f, err := s.root.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recover %s: %w", s.file(part), err)
	}
	end, err := completeLength(f)
	if err == nil {
		err = f.Truncate(end)
	}
	if err == nil && s.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recover %s: %w", s.file(part), err)
	}
	if end == 0 {
		if err := s.root.Remove(part); err != nil {
			return fmt.Errorf("recover %s: %w", s.file(part), err)
		}
		return nil
	}
	final := strings.TrimSuffix(part, partSuffix) + finalSuffix
	if _, err := s.root.Lstat(final); err == nil {
		final = strings.TrimSuffix(part, partSuffix) + "-recovered" + finalSuffix
	}
	if err := s.root.Rename(part, final); err != nil {
		return fmt.Errorf("recover %s: %w", s.file(part), err)
	}
	s.log.Info("finished a file left by an earlier run", "file", s.file(final), "bytes", end)
	if err := s.syncDir(); err != nil {
		return err
	}
	s.recoveredFiles = append(s.recoveredFiles, final)
	return nil
}

// completeLength returns the length of f up to and including its last
// newline, reading backwards in chunks.
func completeLength(f *os.File) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	for end := info.Size(); end > 0; {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}
