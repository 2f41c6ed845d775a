package app

import (
	"fmt"
	"log/slog"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/integrity"
)

// exportKeyring is the keyring S3 and file streams sign their digests with
// (docs/integrity-exports.md): integrity.keys, or the key serve generates
// into the data directory when none is configured.
func exportKeyring(cfg config.Config, log *slog.Logger) (*integrity.Keyring, error) {
	if len(cfg.Integrity.Keys) > 0 {
		kr, err := integrity.NewKeyring(cfg.Integrity.Keys, cfg.Integrity.SigningKey)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return kr, nil
	}
	spec, created, err := integrity.LoadOrGenerate(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("integrity key: %w", err)
	}
	if created {
		log.Info("generated an integrity signing key: export its public key with GET /api/v1/integrity/keys and keep it where auditors can find it", "keyId", spec.ID)
	}
	return integrity.NewKeyring([]integrity.KeySpec{spec}, spec.ID)
}
