package app

import (
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/journal"
)

// journalOptions are the journal's options from the config, the same for
// serve and for commands that open the journal (secrets rotate).
func journalOptions(cfg config.Config) journal.Options {
	return journal.Options{
		DataDir:         cfg.DataDir,
		URL:             cfg.Journal.NatsURL,
		Listen:          cfg.Journal.NatsListen,
		ListenToken:     cfg.Journal.NatsToken,
		MaxAge:          time.Duration(cfg.Journal.MaxAge),
		MaxBytes:        cfg.Journal.MaxBytes,
		DuplicateWindow: time.Duration(cfg.Journal.DuplicateWindow),
		SyncAlways:      cfg.Journal.SyncAlways,
		SyncInterval:    time.Duration(cfg.Journal.SyncInterval),
		Replicas:        cfg.Journal.Replicas,

		DeadLetterMaxBytes: cfg.Journal.DeadLetters.MaxBytes,
	}
}
