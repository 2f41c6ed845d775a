package detect

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketState is the KV bucket of the detection runtime's checkpoints.
const BucketState = "auditstream_detect_state"

// checkpointKey is the key of the one checkpoint (one evaluator per journal;
// a reader per partition would make it per partition).
const checkpointKey = "checkpoint"

// checkpoint is the correlation engine's state and the journal message up to
// which it holds every event: restoring it and reading from Seq+1 resumes
// exactly.
type checkpoint struct {
	Seq      uint64          `json:"seq"`
	Snapshot json.RawMessage `json:"snapshot"`
}

// saveCheckpoint writes the checkpoint, gzipped (a KV value is one NATS
// message: the journal allows 8 MiB).
func saveCheckpoint(ctx context.Context, kv jetstream.KeyValue, seq uint64, snap []byte) error {
	b, err := json.Marshal(checkpoint{Seq: seq, Snapshot: snap})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if _, err := kv.Put(ctx, checkpointKey, buf.Bytes()); err != nil {
		return fmt.Errorf("save detections checkpoint (%d bytes): %w", buf.Len(), err)
	}
	return nil
}

// loadCheckpoint reads the checkpoint; ok is false when there is none.
func loadCheckpoint(ctx context.Context, kv jetstream.KeyValue) (cp checkpoint, ok bool, err error) {
	e, err := kv.Get(ctx, checkpointKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return cp, false, nil
	}
	if err != nil {
		return cp, false, fmt.Errorf("load detections checkpoint: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(e.Value()))
	if err != nil {
		return cp, false, fmt.Errorf("load detections checkpoint: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return cp, false, fmt.Errorf("load detections checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &cp); err != nil {
		return cp, false, fmt.Errorf("load detections checkpoint: %w", err)
	}
	return cp, true, nil
}
