//go:build !unix

package s3test

import (
	"errors"
	"os"
	"time"
)

// lockFile takes an exclusive lock on path by creating it (O_EXCL), waiting
// up to buildTimeout for another process to remove it, and returns the
// function that releases it.
func lockFile(path string) (func(), error) {
	deadline := time.Now().Add(buildTimeout)
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
