//go:build unix

package gotool

import (
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive lock on path, waiting for other processes
// to release it (as long as they hold it: a build ends within its own
// timeout, so wait is not needed here), and returns the function that
// releases it.
func lockFile(path string, _ time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
