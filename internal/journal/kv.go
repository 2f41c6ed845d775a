package journal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names for configuration and state.
const (
	BucketStreams = "auditstream_streams"
	BucketTokens  = "auditstream_tokens"
	BucketStatus  = "auditstream_status"
	BucketSources = "auditstream_sources"
)

// KV opens (creating if needed) a key-value bucket. Buckets keep a short
// history so a watcher that reconnects sees the latest value.
func (j *Journal) KV(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := j.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   bucket,
		History:  1,
		Storage:  jetstream.FileStorage,
		Replicas: j.opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// SharedKey returns the random 32-byte key kept under name in kv, creating
// it on first use, so that every node signs and checks with the same key.
// When nodes create it at the same time, all of them use the one stored
// first.
func SharedKey(ctx context.Context, kv jetstream.KeyValue, name string) ([]byte, error) {
	var err error
	for range 3 {
		var e jetstream.KeyValueEntry
		if e, err = kv.Get(ctx, name); err == nil {
			return e.Value(), nil
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		if _, err = kv.Create(ctx, name, key); err == nil {
			return key, nil
		}
		// Another node may have stored it first: read theirs.
	}
	return nil, fmt.Errorf("create %s: %w", name, err)
}
