package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// natsPkg is nats-server's main package; its version is the one go.mod
// requires (the library the journal embeds).
const natsPkg = "github.com/nats-io/nats-server/v2"

// natsServerBinary returns nats-server: $NATS_SERVER, else on PATH, else in
// $(go env GOPATH)/bin, else the copy in
// $(go env GOCACHE)/auditstream-tools, built there with go install when
// missing (once per machine, under a file lock).
func natsServerBinary() (string, error) {
	if p := os.Getenv("NATS_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("NATS_SERVER=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	gopath, err := goEnv("GOPATH")
	if err != nil {
		return "", err
	}
	for _, dir := range filepath.SplitList(gopath) {
		if p := filepath.Join(dir, "bin", "nats-server"); fileExists(p) {
			return p, nil
		}
	}
	version, err := natsVersion()
	if err != nil {
		return "", err
	}
	cache, err := goEnv("GOCACHE")
	if err != nil {
		return "", err
	}
	if cache == "" || cache == "off" {
		return "", errors.New("nats-server not found and GOCACHE is off: install it with go install " + natsPkg + "@" + version)
	}
	dir := filepath.Join(cache, "auditstream-tools")
	bin := filepath.Join(dir, "nats-server-"+version)
	if fileExists(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("tool cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "nats-server.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("tool cache: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("tool cache lock: %w", err)
	}
	if fileExists(bin) {
		return bin, nil
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("tool cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fmt.Fprintf(os.Stderr, "cluster: nats-server not installed; building %s@%s into %s (first use only)\n", natsPkg, version, dir)
	cmd := exec.CommandContext(ctx, "go", "install", natsPkg+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("nats-server is not installed and building it failed (go install %s@%s: %w); install it or set NATS_SERVER:\n%s", natsPkg, version, err, out.String())
	}
	if err := os.Rename(filepath.Join(tmp, "nats-server"), bin); err != nil {
		return "", fmt.Errorf("tool cache: %w", err)
	}
	return bin, nil
}

// natsVersion is the nats-server version go.mod requires.
func natsVersion() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", natsPkg).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", natsPkg, err)
	}
	return strings.TrimSpace(string(out)), nil
}

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

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
