package exportdigest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// DirStore is a Store on a directory: keys are slash-separated paths
// below it. Every file is reached through the open directory (os.Root),
// so a symbolic link cannot lead out of it.
type DirStore struct {
	root *os.Root
}

var _ Store = (*DirStore)(nil)

// OpenDir opens dir as a store. Close releases it.
func OpenDir(dir string) (*DirStore, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &DirStore{root: r}, nil
}

// NewDirStore makes a store of an open directory; the caller keeps
// ownership of root.
func NewDirStore(root *os.Root) *DirStore { return &DirStore{root: root} }

// Close releases the directory.
func (s *DirStore) Close() error { return s.root.Close() }

// Create writes body to a temporary file, syncs it and links it to key,
// which fails if key exists: a crash leaves either no file or the whole
// one, and nothing is overwritten.
func (s *DirStore) Create(_ context.Context, key string, body []byte) error {
	dir := path.Dir(key)
	if err := s.root.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp := path.Join(dir, ".tmp-"+rand.Text())
	f, err := s.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	defer s.root.Remove(tmp) //nolint:errcheck // gone after the link either way
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := s.root.Link(tmp, key); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, ErrExists)
		}
		return fmt.Errorf("create %s: %w", key, err)
	}
	if d, err := s.root.Open(dir); err == nil {
		_ = d.Sync() // the new name on disk
		_ = d.Close()
	}
	return nil
}

// Read implements Store.
func (s *DirStore) Read(_ context.Context, key string) ([]byte, error) {
	b, err := s.root.ReadFile(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return b, err
}

// List implements Store: regular files whose path starts with prefix;
// temporary files of Create are left out.
func (s *DirStore) List(_ context.Context, prefix string) ([]Object, error) {
	var out []Object
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			if p != start && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) || strings.HasPrefix(path.Base(p), ".tmp-") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, Object{Key: p, Size: info.Size(), Modified: info.ModTime()})
		return nil
	})
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return out, err
}
