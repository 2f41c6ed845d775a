package detect

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketState is the KV bucket of the detection runtime's checkpoints.
const BucketState = "auditstream_detect_state"

// checkpointKey is the key of the one checkpoint (one evaluator per journal,
// with a position in each of its partitions).
const checkpointKey = "checkpoint"

// checkpoint is the correlation engine's state and the journal message up to
// which it holds every event, in each journal partition: restoring it and
// reading each partition from its sequence + 1 resumes exactly.
type checkpoint struct {
	// Seq is the message sequence of partition 0 (of the journal, with one
	// partition: the checkpoint of every release before partitions).
	Seq uint64 `json:"seq"`
	// Seqs, with several partitions only, is each partition's sequence
	// (Seqs[0] is Seq).
	Seqs     []uint64        `json:"seqs,omitempty"`
	Snapshot json.RawMessage `json:"snapshot"`
}

// positions is the checkpoint's sequence in each of n partitions; ok is
// false when it was written for another partition count (its state then
// does not fit the journal's partitions).
func (cp checkpoint) positions(n int) (seqs []uint64, ok bool) {
	switch {
	case n <= 1 && len(cp.Seqs) <= 1:
		return []uint64{cp.Seq}, true
	case len(cp.Seqs) == n:
		return slices.Clone(cp.Seqs), true
	}
	return make([]uint64, max(n, 1)), false
}

// saveCheckpoint writes the checkpoint at seqs (one sequence per journal
// partition), gzipped (a KV value is one NATS message: the journal allows
// 8 MiB). With one partition it is the format of every release before
// partitions.
func saveCheckpoint(ctx context.Context, kv jetstream.KeyValue, seqs []uint64, snap []byte) error {
	cp := checkpoint{Seq: seqs[0], Snapshot: snap}
	if len(seqs) > 1 {
		cp.Seqs = seqs
	}
	b, err := json.Marshal(cp)
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
