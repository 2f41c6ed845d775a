package journal

import (
	"context"
	"fmt"
	"time"

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

// KVWithTTL opens (creating if needed) a key-value bucket whose entries
// expire maxAge after they were last written (bounded state such as
// finished jobs); otherwise as KV.
func (j *Journal) KVWithTTL(ctx context.Context, bucket string, maxAge time.Duration) (jetstream.KeyValue, error) {
	kv, err := j.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   bucket,
		History:  1,
		TTL:      maxAge,
		Storage:  jetstream.FileStorage,
		Replicas: j.opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", bucket, err)
	}
	return kv, nil
}
