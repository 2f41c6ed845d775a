package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/query"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/ebreceiver"
)

// sealedBuckets are the buckets whose records carry secrets (destination
// passwords and tokens, Okta API tokens and private keys, AWS keys): every
// record is sealed whole, so no secret field of any type can be missed.
var sealedBuckets = []string{journal.BucketStreams, journal.BucketSources}

// secretKeys loads the keys that seal records at rest: from envKey
// (AUDITSTREAM_SECRET_KEY) or the config's secrets.keyFile. nil means no
// key: records are stored in clear.
func secretKeys(cfg config.Config, envKey string) (*secret.Keyring, error) {
	return secret.LoadKeyring(envKey, cfg.Secrets.KeyFile)
}

// reportSealing logs how secrets are kept at rest: a WARN without a key,
// and a WARN naming the records a key does not protect yet.
func reportSealing(ctx context.Context, cfg config.Config, j *journal.Journal, keys *secret.Keyring, log *slog.Logger) {
	if f := cfg.Secrets.KeyFile; f != "" {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the secret key file is readable by other users; chmod 600 it", "file", f, "mode", fi.Mode().Perm().String())
		}
	}
	if keys == nil {
		log.Warn("no secret key is configured: secrets of log streams and sources are stored in clear in the journal; set AUDITSTREAM_SECRET_KEY or secrets.keyFile to encrypt them")
		return
	}
	clear := 0
	for _, b := range sealedBuckets {
		kv, err := j.KV(ctx, b)
		if err != nil {
			continue
		}
		n, _ := countClear(ctx, kv)
		clear += n
	}
	log.Info("secrets are encrypted at rest", "keyId", keys.CurrentID())
	if clear > 0 {
		log.Warn("some log stream or source records are still stored in clear; run auditstream secrets rotate to encrypt them", "records", clear)
	}
}

// countClear counts the records of kv that are not sealed.
func countClear(ctx context.Context, kv jetstream.KeyValue) (int, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for k := range keys.Keys() {
		if e, err := kv.Get(ctx, k); err == nil && !secret.IsSealed(e.Value()) {
			n++
		}
	}
	return n, nil
}

// RotateSecrets re-encrypts every log stream and source record with the
// current key of keys (the first of the key file), encrypting those still
// in clear, and purges the older copies (kvstore.Reseal). It opens the
// journal as serve does: embedded on cfg.DataDir (run it while the service
// is stopped) or on cfg.Journal.NatsURL.
func RotateSecrets(ctx context.Context, cfg config.Config, keys *secret.Keyring, log *slog.Logger) ([]kvstore.ResealReport, error) {
	if keys == nil {
		return nil, fmt.Errorf("secrets rotate: %w", secret.ErrNoKey)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	jopts := journalOptions(cfg)
	jopts.Listen, jopts.ListenToken = "", "" // nobody else needs to reach it meanwhile
	j, err := journal.Open(ctx, jopts, log)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	var out []kvstore.ResealReport
	for _, b := range sealedBuckets {
		// Create the bucket as serve would, so a fresh journal works too.
		if _, err := j.KV(ctx, b); err != nil {
			return out, err
		}
		rep, err := kvstore.Reseal(ctx, j.JetStream(), b, keys)
		if err != nil {
			return out, err
		}
		out = append(out, rep)
	}
	// The install's signing keys (query cursors, EventBridge receiver
	// tokens) are sealed like the definitions.
	for _, k := range signingKeys {
		kv, err := j.KV(ctx, k.bucket)
		if err != nil {
			return out, err
		}
		if err := kvstore.ResealKey(ctx, kv, k.name, keys); err != nil {
			return out, err
		}
	}
	return out, nil
}

// signingKeys are the records of the install's signing keys
// (kvstore.LoadKey), which secrets rotate seals again.
var signingKeys = []struct{ bucket, name string }{
	{query.KeyBucket, query.CursorKeyName},
	{source.BucketState, ebreceiver.TokenKeyName},
}
