package kvstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// KeySize is the size of the keys LoadKey makes (256 bits).
const KeySize = 32

// LoadKey returns the random key stored as name in kv (an install's
// signing key: query cursors, EventBridge receiver tokens), creating it on
// first use; when several nodes race, one creates it and the others read
// it. The key is stored through c, so with an operator key it is sealed at
// rest like the definitions; a key stored in clear before an operator key
// was configured is sealed in place. A sealed key c cannot open is an
// error naming the key id (the service does not start without its key).
func LoadKey(ctx context.Context, kv jetstream.KeyValue, name string, c Codec) ([]byte, error) {
	if c == nil {
		c = inClear{}
	}
	for range 3 {
		e, err := kv.Get(ctx, name)
		if err == nil {
			key, err := c.Open(kv.Bucket(), name, e.Value())
			if err != nil {
				return nil, fmt.Errorf("key %s in %s: %w", name, kv.Bucket(), err)
			}
			// Stored in clear (it opened as itself) before an operator key
			// existed: seal it, once. A sealed key is left as it is: sealing
			// again would rewrite it at every start. Losing this race to
			// another node sealing it too is fine.
			if bytes.Equal(key, e.Value()) {
				if sealed, err := c.Seal(kv.Bucket(), name, key); err == nil && !bytes.Equal(sealed, key) {
					_, _ = kv.Update(ctx, name, sealed, e.Revision())
				}
			}
			return key, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("load key %s: %w", name, err)
		}
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		stored, err := c.Seal(kv.Bucket(), name, key)
		if err != nil {
			return nil, fmt.Errorf("seal key %s: %w", name, err)
		}
		if _, err := kv.Create(ctx, name, stored); err == nil {
			return key, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("create key %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("key %s: lost the race to create it three times", name)
}

// ResealKey seals the key stored as name again with c's current key (it
// opens with any key c knows, or in clear), for a key rotation. A missing
// key is not an error: it will be made sealed.
func ResealKey(ctx context.Context, kv jetstream.KeyValue, name string, c Codec) error {
	if c == nil {
		c = inClear{}
	}
	e, err := kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load key %s: %w", name, err)
	}
	key, err := c.Open(kv.Bucket(), name, e.Value())
	if err != nil {
		return fmt.Errorf("key %s in %s: %w", name, kv.Bucket(), err)
	}
	sealed, err := c.Seal(kv.Bucket(), name, key)
	if err != nil {
		return err
	}
	if _, err := kv.Update(ctx, name, sealed, e.Revision()); err != nil {
		return fmt.Errorf("store key %s: %w", name, err)
	}
	return nil
}

// inClear is the Codec of a service without an operator key.
type inClear struct{}

func (inClear) Seal(_, _ string, plain []byte) ([]byte, error) { return plain, nil }
func (inClear) Open(_, _ string, stored []byte) ([]byte, error) {
	if len(stored) != KeySize {
		return nil, errors.New("the key is sealed (or damaged) and no secret key is configured")
	}
	return stored, nil
}
