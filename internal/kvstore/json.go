package kvstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// readTimeout bounds a one-off read of a record.
const readTimeout = 2 * time.Second

// GetJSON reads the JSON record at key, reporting false when it is absent
// or unreadable (a status not saved yet, say).
func GetJSON[T any](kv jetstream.KeyValue, key string) (T, bool) {
	var v T
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	e, err := kv.Get(ctx, key)
	if err != nil {
		return v, false
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, false
	}
	return v, true
}

// PutJSON writes v as JSON at key.
func PutJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, key, b)
	return err
}
