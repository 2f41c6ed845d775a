package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/lease"
)

// integrityKeys loads the keys digests are signed with: integrity.keys,
// or the key serve generates into the data directory on its first start.
// Only key ids are logged.
func integrityKeys(cfg config.Config, log *slog.Logger) (*integrity.Keyring, error) {
	if len(cfg.Integrity.Keys) > 0 {
		return integrity.NewKeyring(cfg.Integrity.Keys, cfg.Integrity.SigningKey)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("integrity: no integrity.keys and no dataDir to keep a generated key in")
	}
	spec, created, err := integrity.LoadOrGenerate(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("integrity: generated a signing key for the audit trail's digests; back it up, or configure integrity.keys (and the same keys on every node of a cluster)",
			"keyId", spec.ID, "file", spec.PrivateKeyFile)
	} else {
		log.Info("integrity: signing digests with the generated key", "keyId", spec.ID, "file", spec.PrivateKeyFile)
	}
	return integrity.NewKeyring([]integrity.KeySpec{spec}, "")
}

// integrityParts is the tamper-evident trail's runtime: the digester
// (run on one node, by lease), the truncation recorder hooked into the
// journal's purges, and the API.
type integrityParts struct {
	digester *integrity.Digester
	api      *integrity.API
	journal  *journal.Journal
	keys     *integrity.Keyring
	log      *slog.Logger
}

func newIntegrity(ctx context.Context, cfg config.Config, j *journal.Journal, keys *integrity.Keyring,
	clusterKV jetstream.KeyValue, reg prometheus.Registerer, log *slog.Logger) (*integrityParts, error) {
	stateKV, err := j.KV(ctx, integrity.Bucket)
	if err != nil {
		return nil, err
	}
	interval := cfg.Integrity.DigestInterval.D()
	// The lease outlives two missed passes, so it stays with one node
	// while that node digests.
	leases := lease.New(lease.Config{KV: clusterKV, Node: cfg.Cluster.NodeID, TTL: 3 * interval})
	dg := integrity.NewDigester(integrity.DigesterConfig{Interval: interval, SystemOrg: cfg.Ingest.DefaultOrg, MaxAge: cfg.Journal.MaxAge.D()},
		integrity.DigesterDeps{Journal: j, Keys: keys, State: stateKV, Leases: leases, Log: log, Registry: reg})
	tr := &integrity.Truncations{Journal: j, Keys: keys, Log: log}
	j.SetPurgeHook(tr.Hook(integrity.ReasonRetention))
	return &integrityParts{digester: dg, api: &integrity.API{Journal: j, Keys: keys}, journal: j, keys: keys, log: log}, nil
}

// run records a loss the journal found at start in truncation digests,
// then digests until ctx ends.
func (p *integrityParts) run(ctx context.Context) error {
	if l, ok := p.journal.LostEvents(); ok {
		if _, err := integrity.RecordLoss(ctx, p.journal, p.keys, l, p.log); err != nil && ctx.Err() == nil {
			p.log.Error("integrity: the journal's loss could not be recorded in truncation digests; verification will report it as missing events", "err", err)
		}
	}
	p.digester.Run(ctx)
	return nil
}

// VerifyJournal verifies the trails in the journal (org's, or every org's
// when org is ""), opening it as serve does: embedded on cfg.DataDir
// (while the service is stopped) or on cfg.Journal.NatsURL. keys nil
// verifies with the configured keys (integrity.keys, else the key serve
// generated in the data directory).
func VerifyJournal(ctx context.Context, cfg config.Config, org string, keys []integrity.PublicKey, expect [][]byte, log *slog.Logger) ([]integrity.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var kr *integrity.Keyring
	var err error
	switch {
	case keys != nil:
		kr, err = integrity.VerifyOnly(keys)
	case len(cfg.Integrity.Keys) > 0:
		kr, err = integrity.NewKeyring(cfg.Integrity.Keys, cfg.Integrity.SigningKey)
	default:
		path := filepath.Join(cfg.DataDir, integrity.GeneratedKeyFile)
		if _, serr := os.Stat(path); serr != nil {
			return nil, fmt.Errorf("no keys: give --keys FILE (GET /api/v1/integrity/keys) or configure integrity.keys (%w)", serr)
		}
		var spec integrity.KeySpec
		if spec, _, err = integrity.LoadOrGenerate(cfg.DataDir); err == nil {
			kr, err = integrity.NewKeyring([]integrity.KeySpec{spec}, "")
		}
	}
	if err != nil {
		return nil, err
	}
	jopts := journalOptions(cfg)
	jopts.Listen, jopts.ListenToken = "", ""
	j, err := journal.Open(ctx, jopts, log)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	return integrity.VerifyJournal(ctx, j, org, kr.Lookup(), expect)
}
