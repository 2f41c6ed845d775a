// Package gotool finds a command that `go install` makes (versitygw,
// nats-server) and, for the tests and the load tool, builds it once per
// machine into the tool cache, $(go env GOCACHE)/auditstream-tools. It
// imports no testing package: callers fail their test on its errors, never
// skip.
package gotool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotFound is wrapped by Lookup's error when the tool is not installed.
var ErrNotFound = errors.New("not found")

// Tool is a command made by `go install Package@Version`.
type Tool struct {
	// Name is the command's name ("versitygw").
	Name string
	// Package is its main package; Version the release to build.
	Package, Version string
	// Env names the environment variable that points at an installed copy
	// ("VERSITYGW").
	Env string
}

// Lookup returns the installed t that env (os.Getenv, Env, or a fake)
// points to: $Env as it is, else Name on PATH, else Name in the bin
// directory of a $GOPATH entry ($HOME/go without GOPATH). The error wraps
// ErrNotFound and says how to install it.
func (t Tool) Lookup(env func(string) string) (string, error) {
	if p := env(t.Env); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath(t.Name); err == nil {
		return p, nil
	}
	gopath := env("GOPATH")
	if gopath == "" && env("HOME") != "" {
		gopath = filepath.Join(env("HOME"), "go")
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", t.Name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s %w: set %s or go install %s@%s", t.Name, ErrNotFound, t.Env, t.Package, t.Version)
}

// FindOrInstall returns t for a test: $Env, which must exist; else the
// installed copy Lookup finds (with GOPATH as `go env` says); else the copy
// in the tool cache, built there by Install when missing.
func (t Tool) FindOrInstall(timeout time.Duration) (string, error) {
	if p := os.Getenv(t.Env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", t.Env, p, err)
		}
	}
	p, err := t.Lookup(Env)
	if !errors.Is(err, ErrNotFound) {
		return p, err
	}
	cache, err := GoEnv("GOCACHE")
	if err != nil {
		return "", err
	}
	if cache == "" || cache == "off" {
		return "", fmt.Errorf("%s not found and GOCACHE is off: install it with go install %s@%s", t.Name, t.Package, t.Version)
	}
	return t.Install(filepath.Join(cache, "auditstream-tools"), timeout)
}

// Install returns dir/<Name>-<Version>, building it first with go install
// (outside any module, within timeout) unless it is there. A lock on
// dir/<Name>.lock keeps parallel test processes from building it twice.
// A failed build is an error naming the command, carrying its output, and
// leaves no binary behind.
func (t Tool) Install(dir string, timeout time.Duration) (string, error) {
	bin := filepath.Join(dir, t.Name+"-"+t.Version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s tool cache: %w", t.Name, err)
	}
	unlock, err := lockFile(filepath.Join(dir, t.Name+".lock"), timeout)
	if err != nil {
		return "", fmt.Errorf("%s tool cache: %w", t.Name, err)
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by another process while we waited
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("%s tool cache: %w", t.Name, err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fmt.Fprintf(os.Stderr, "%s not installed; building %s@%s into %s (first use only, may take a few minutes)\n", t.Name, t.Package, t.Version, dir)
	cmd := exec.CommandContext(ctx, "go", "install", t.Package+"@"+t.Version)
	// Outside any module or workspace, with the caller's proxy settings
	// but none of its build flags (such as -mod=vendor).
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s is not installed and building it failed (go install %s@%s: %w); install it yourself or set %s to its path:\n%s",
			t.Name, t.Package, t.Version, err, t.Env, out.String())
	}
	if err := os.Rename(filepath.Join(tmp, t.Name), bin); err != nil {
		return "", fmt.Errorf("%s tool cache: %w", t.Name, err)
	}
	return bin, nil
}

// Env is os.Getenv, except that GOPATH is `go env GOPATH` (which knows its
// default) when the variable is not set.
func Env(name string) string {
	if name == "GOPATH" {
		v, _ := GoEnv("GOPATH")
		return v
	}
	return os.Getenv(name)
}

// GoEnv returns `go env NAME`, preferring the environment variable.
func GoEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
