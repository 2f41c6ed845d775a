//go:build !unix

package gotool

import (
	"errors"
	"os"
	"time"
)

// lockFile takes an exclusive lock on path by creating it (O_EXCL), waiting
// up to wait for another process to remove it, and returns the function
// that releases it.
func lockFile(path string, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(time.Second)
	}
}
