package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/versitygw"
)

// Version is the versitygw release the tests build when none is installed.
const Version = versitygw.Version

// pkg is versitygw's main package.
const pkg = versitygw.Package

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
// lock keeps parallel test processes from building it twice). The error
// says why versitygw could not be had; callers fail the test on it.
func Binary() (string, error) {
	binaryOnce.Do(func() { binaryPath, binaryErr = findOrBuild() })
	return binaryPath, binaryErr
}

func findOrBuild() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("VERSITYGW=%s: %w", p, err)
		}
	}
	env := func(k string) string {
		if k == "GOPATH" {
			v, _ := goEnv("GOPATH") // go env knows GOPATH's default
			return v
		}
		return os.Getenv(k)
	}
	p, err := versitygw.Lookup(env)
	if !errors.Is(err, versitygw.ErrNotFound) {
		return p, err
	}
	cache, err := goEnv("GOCACHE")
	if err != nil {
		return "", err
	}
	if cache == "" || cache == "off" {
		return "", errors.New("versitygw not found and GOCACHE is off: install it with go install " + pkg + "@" + Version)
	}
	return build(filepath.Join(cache, "auditstream-tools"))
}

// build installs versitygw into dir unless another process already did,
// holding dir/versitygw.lock meanwhile, and returns the binary's path.
func build(dir string) (string, error) {
	bin := filepath.Join(dir, "versitygw-"+Version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("versitygw tool cache: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, "versitygw.lock"))
	if err != nil {
		return "", fmt.Errorf("versitygw tool cache: %w", err)
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by another test process while we waited
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("versitygw tool cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	fmt.Fprintf(os.Stderr, "s3test: versitygw not installed; building %s@%s into %s (first use only, takes a few minutes)\n", pkg, Version, dir)
	cmd := exec.CommandContext(ctx, "go", "install", pkg+"@"+Version)
	// Outside any module or workspace, with the caller's proxy settings
	// but none of its build flags (such as -mod=vendor).
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("versitygw is not installed and building it failed (go install %s@%s: %w); install it yourself or set VERSITYGW to its path:\n%s", pkg, Version, err, out.String())
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", fmt.Errorf("versitygw tool cache: %w", err)
	}
	return bin, nil
}

// goEnv returns `go env NAME`, preferring the environment variable.
func goEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
