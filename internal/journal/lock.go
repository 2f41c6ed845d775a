package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the file in the data directory that the embedded journal
// holds an exclusive lock on while it runs. It contains the PID of the
// process holding it.
const LockFile = "LOCK"

// ErrLocked is returned by Open when another process holds the data
// directory's lock.
var ErrLocked = errors.New("data directory in use")

// dirLock is a held flock on <dataDir>/LOCK.
type dirLock struct{ f *os.File }

// lockDataDir takes an exclusive, non-blocking flock on <dir>/LOCK and
// writes this process's PID into it. Two journals on one directory would
// each rebuild the other's files and lose acknowledged events, so the
// second one must fail before it touches anything else. The kernel drops
// the lock when the process dies, so a stale LOCK file never blocks a
// restart.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid := strings.TrimSpace(string(b)); pid != "" {
				holder = "process " + pid
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s holds the lock on %s; stop it or use another data directory (--data-dir)",
				ErrLocked, holder, path)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		_ = f.Sync()
	}
	return &dirLock{f: f}, nil
}

// release unlocks and closes the lock file. The file stays: removing it
// would race with a process that has just opened it.
func (l *dirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
