package s3test

import (
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/versitygw"
)

// Version is the versitygw release the tests build when none is installed.
const Version = versitygw.Version

// buildTimeout bounds building versitygw (downloading its modules and
// compiling them takes a few minutes on a small machine).
const buildTimeout = 12 * time.Minute

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// Binary returns the path of versitygw: $VERSITYGW, else versitygw on
// PATH, else in $(go env GOPATH)/bin, else the copy in the test tool cache,
// $(go env GOCACHE)/auditstream-tools/versitygw-<Version>. When there is
// none, it builds that copy with `go install` (once per machine: a file
// lock keeps parallel test processes from building it twice; package
// gotool). The error says why versitygw could not be had; callers fail the
// test on it.
func Binary() (string, error) {
	binaryOnce.Do(func() { binaryPath, binaryErr = versitygw.Tool().FindOrInstall(buildTimeout) })
	return binaryPath, binaryErr
}

// build installs versitygw into dir unless another process already did,
// holding dir/versitygw.lock meanwhile, and returns the binary's path.
func build(dir string) (string, error) { return versitygw.Tool().Install(dir, buildTimeout) }
