package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/gotool"
)

// natsPkg is nats-server's main package; its version is the one go.mod
// requires (the library the journal embeds).
const natsPkg = "github.com/nats-io/nats-server/v2"

// natsServerBinary returns nats-server: $NATS_SERVER, else on PATH, else in
// $(go env GOPATH)/bin, else the copy in
// $(go env GOCACHE)/auditstream-tools, built there with go install when
// missing (once per machine, under a file lock; package gotool).
func natsServerBinary() (string, error) {
	version, err := natsVersion()
	if err != nil {
		return "", err
	}
	return gotool.Tool{Name: "nats-server", Package: natsPkg, Version: version, Env: "NATS_SERVER"}.FindOrInstall(10 * time.Minute)
}

// natsVersion is the nats-server version go.mod requires.
func natsVersion() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", natsPkg).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", natsPkg, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
