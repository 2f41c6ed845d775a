package kvstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// resealComplete marks a finished copy in a reseal's backup bucket.
const resealComplete = "reseal.complete"

// ResealReport says what Reseal did to one bucket.
type ResealReport struct {
	Bucket string
	// Records is how many records were rewritten; Clear how many of them
	// were stored in clear before.
	Records, Clear int
	// Recovered is set when an interrupted earlier run was finished from
	// its backup.
	Recovered bool
}

// Reseal rewrites every record of bucket through c: each is opened (in
// clear or sealed with any key c knows) and sealed again (with c's current
// key). Nothing is written unless every record opens.
//
// Then no older copy is left behind: a JetStream bucket keeps the bytes of
// replaced revisions in its files until they are compacted, so Reseal
// copies the new records to a backup bucket (<bucket>_reseal), purges the
// bucket's stream (which removes its files), writes the records back and
// deletes the backup. A run interrupted after the backup was complete is
// finished from the backup by the next run.
//
// Run it while no service writes to the bucket: a change made between the
// read and the purge would be lost. Live mirrors (Store) follow the
// rewritten records through their watch.
func Reseal(ctx context.Context, js jetstream.JetStream, bucket string, c Codec) (ResealReport, error) {
	rep := ResealReport{Bucket: bucket}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	info, err := kv.Status(ctx)
	if err != nil {
		return rep, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	replicas := 1
	if st, ok := info.(*jetstream.KeyValueBucketStatus); ok && st.StreamInfo() != nil {
		replicas = st.StreamInfo().Config.Replicas
	}

	// The records to write: from a finished backup of an interrupted run,
	// else from the bucket.
	from, backup := kv, bucket+"_reseal"
	bkv, err := js.KeyValue(ctx, backup)
	switch {
	case err == nil:
		if _, err := bkv.Get(ctx, resealComplete); err == nil {
			from, rep.Recovered = bkv, true
		} else if err := js.DeleteKeyValue(ctx, backup); err != nil {
			return rep, fmt.Errorf("remove unfinished backup %s: %w", backup, err)
		}
	case !errors.Is(err, jetstream.ErrBucketNotFound):
		return rep, fmt.Errorf("bucket %s: %w", backup, err)
	}
	keys, err := from.ListKeys(ctx)
	if err != nil {
		return rep, fmt.Errorf("list %s: %w", bucket, err)
	}
	sealed := map[string][]byte{}
	var errs []error
	for k := range keys.Keys() {
		if k == resealComplete && rep.Recovered {
			continue
		}
		e, err := from.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("read %s %s: %w", bucket, k, err)
		}
		plain, err := c.Open(bucket, k, e.Value())
		if err != nil {
			errs = append(errs, fmt.Errorf("record %s in bucket %s: %w", k, bucket, err))
			continue
		}
		if slices.Equal(plain, e.Value()) { // the codec opened it as it was
			rep.Clear++
		}
		if sealed[k], err = c.Seal(bucket, k, plain); err != nil {
			return rep, err
		}
	}
	if len(errs) > 0 {
		return rep, errors.Join(errs...)
	}
	rep.Records = len(sealed)
	if rep.Recovered {
		rep.Clear = 0 // the backup holds sealed copies; what was clear is unknown
	}

	if !rep.Recovered {
		bkv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: backup, History: 1,
			Storage: jetstream.FileStorage, Replicas: replicas})
		if err != nil {
			return rep, fmt.Errorf("create backup %s: %w", backup, err)
		}
		for k, v := range sealed {
			if _, err := bkv.Put(ctx, k, v); err != nil {
				return rep, fmt.Errorf("backup %s %s: %w", bucket, k, err)
			}
		}
		if _, err := bkv.Put(ctx, resealComplete, []byte("1")); err != nil {
			return rep, fmt.Errorf("backup %s: %w", bucket, err)
		}
	}
	st, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return rep, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	if err := st.Purge(ctx); err != nil {
		return rep, fmt.Errorf("purge %s: %w", bucket, err)
	}
	for k, v := range sealed {
		if _, err := kv.Put(ctx, k, v); err != nil {
			return rep, fmt.Errorf("write %s %s (the next run finishes from %s): %w", bucket, k, backup, err)
		}
	}
	if err := js.DeleteKeyValue(ctx, backup); err != nil {
		return rep, fmt.Errorf("remove backup %s: %w", backup, err)
	}
	return rep, nil
}
