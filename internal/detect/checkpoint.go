package detect

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketState is the KV bucket of the detection runtime's checkpoints.
const BucketState = "auditstream_detect_state"

// checkpointKey is the key of the one checkpoint (one evaluator per journal,
// with a position in each of its partitions).
const checkpointKey = "checkpoint"

// chunkPrefix starts the keys of a chunked checkpoint's snapshot:
// checkpoint.chunk.<slot>.<index>.
const chunkPrefix = "checkpoint.chunk."

// DefaultChunkSize is the largest KV value a checkpoint writes: state whose
// gzipped compact snapshot is up to a quarter of it is stored inline in one
// value with the JSON snapshot (the format of every release before
// chunking), larger state as the compact snapshot in chunks of this size.
// 1 MiB fits a NATS server's default max_payload (the journal's allows
// 8 MiB).
const DefaultChunkSize = 1 << 20

// checkpoint is the correlation engine's state and the journal message up to
// which it holds every event, in each journal partition: restoring it and
// reading each partition from its sequence + 1 resumes exactly.
type checkpoint struct {
	// Seq is the message sequence of partition 0 (of the journal, with one
	// partition: the checkpoint of every release before partitions).
	Seq uint64 `json:"seq"`
	// Seqs, with several partitions only, is each partition's sequence
	// (Seqs[0] is Seq).
	Seqs []uint64 `json:"seqs,omitempty"`
	// Snapshot is the engine's snapshot, inline; empty when Chunks is set.
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	// Chunks, set when the snapshot did not fit one value, is where it is.
	Chunks *chunkManifest `json:"chunks,omitempty"`
}

// chunkManifest locates a snapshot stored in chunks: the gzipped snapshot
// split over keys chunk.<Slot>.0 .. chunk.<Slot>.<N-1>. Two slots take
// turns: a save writes the slot the current manifest does not name and
// replaces the manifest last, so a save that dies midway leaves the
// previous checkpoint whole.
type chunkManifest struct {
	Slot   int    `json:"slot"`
	N      int    `json:"n"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
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

// slotUnknown: the checkpoint store has not read the bucket yet.
const (
	slotUnknown = -2
	slotInline  = -1
)

// checkpointStore saves and loads the checkpoint in a KV bucket. It is used
// by one goroutine at a time (the evaluating one).
type checkpointStore struct {
	kv        jetstream.KeyValue
	chunkSize int
	// slot is the chunk slot of the stored checkpoint (slotInline: inline
	// or none; slotUnknown: not read yet).
	slot int
}

func newCheckpointStore(kv jetstream.KeyValue, chunkSize int) *checkpointStore {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	return &checkpointStore{kv: kv, chunkSize: chunkSize, slot: slotUnknown}
}

func chunkKey(slot, i int) string { return chunkPrefix + strconv.Itoa(slot) + "." + strconv.Itoa(i) }

// savedCheckpoint describes a save: the bytes stored and in how many values.
type savedCheckpoint struct {
	Bytes  int
	Chunks int
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// snapshotter is what a checkpoint holds: the correlation engine's state,
// as JSON or in the compact form (correlate.Engine).
type snapshotter interface {
	Snapshot() ([]byte, error)
	SnapshotCompact() []byte
}

// save writes the checkpoint of eng's state at seqs (one sequence per
// journal partition). Small state is one gzipped value with the JSON
// snapshot (with one partition the format of every release before
// partitions); larger state is the compact snapshot, gzipped and written in
// chunks to the free slot, then the manifest naming them.
func (c *checkpointStore) save(ctx context.Context, seqs []uint64, eng snapshotter) (savedCheckpoint, error) {
	cp := checkpoint{Seq: seqs[0]}
	if len(seqs) > 1 {
		cp.Seqs = seqs
	}
	gz := gzipped(eng.SnapshotCompact())
	if len(gz) <= c.chunkSize/4 {
		snap, err := eng.Snapshot()
		if err != nil {
			return savedCheckpoint{}, err
		}
		cp.Snapshot = snap
		b, err := json.Marshal(cp)
		if err != nil {
			return savedCheckpoint{}, err
		}
		if v := gzipped(b); len(v) <= c.chunkSize {
			return c.saveInline(ctx, v)
		}
		cp.Snapshot = nil
	}
	return c.saveChunks(ctx, cp, gz)
}

// saveInline writes a checkpoint of one value v.
func (c *checkpointStore) saveInline(ctx context.Context, v []byte) (savedCheckpoint, error) {
	if _, err := c.kv.Put(ctx, checkpointKey, v); err != nil {
		return savedCheckpoint{}, fmt.Errorf("save detections checkpoint (%d bytes): %w", len(v), err)
	}
	if c.slot != slotInline {
		// Chunks of an earlier chunked checkpoint are garbage now.
		c.cleanSlot(ctx, 0, 0)
		c.cleanSlot(ctx, 1, 0)
	}
	c.slot = slotInline
	return savedCheckpoint{Bytes: len(v), Chunks: 1}, nil
}

// saveChunks writes gz (a gzipped snapshot) in chunks to the free slot, then
// cp with the manifest naming them.
func (c *checkpointStore) saveChunks(ctx context.Context, cp checkpoint, gz []byte) (savedCheckpoint, error) {
	if c.slot == slotUnknown {
		if _, err := c.load(ctx); err != nil {
			// An unreadable checkpoint: its slot is unknown, write slot 0.
			c.slot = slotInline
		}
	}
	slot := 0
	if c.slot == 0 {
		slot = 1
	}
	sum := sha256.Sum256(gz)
	m := chunkManifest{Slot: slot, Size: len(gz), SHA256: hex.EncodeToString(sum[:])}
	for off := 0; off < len(gz); off += c.chunkSize {
		part := gz[off:min(off+c.chunkSize, len(gz))]
		if _, err := c.kv.Put(ctx, chunkKey(slot, m.N), part); err != nil {
			return savedCheckpoint{}, fmt.Errorf("save detections checkpoint: chunk %d of %d (%d bytes of %d): %w",
				m.N+1, (len(gz)+c.chunkSize-1)/c.chunkSize, len(part), len(gz), err)
		}
		m.N++
	}
	cp.Chunks = &m
	b, err := json.Marshal(cp)
	if err != nil {
		return savedCheckpoint{}, err
	}
	if _, err := c.kv.Put(ctx, checkpointKey, gzipped(b)); err != nil {
		return savedCheckpoint{}, fmt.Errorf("save detections checkpoint manifest: %w", err)
	}
	c.slot = slot
	// Chunks of a larger earlier checkpoint in this slot.
	c.cleanSlot(ctx, slot, m.N)
	return savedCheckpoint{Bytes: len(gz), Chunks: m.N}, nil
}

// cleanSlot deletes the chunks of slot from index from on (best effort:
// leftovers cost space, never correctness; the manifest says how many
// chunks are read).
func (c *checkpointStore) cleanSlot(ctx context.Context, slot, from int) {
	for i := from; ; i++ {
		if _, err := c.kv.Get(ctx, chunkKey(slot, i)); err != nil {
			return
		}
		if err := c.kv.Delete(ctx, chunkKey(slot, i)); err != nil {
			return
		}
	}
}

// load reads the checkpoint, with its snapshot reassembled from its
// chunks; ok is false when there is none.
func (c *checkpointStore) load(ctx context.Context) (cp checkpoint, err error) {
	e, err := c.kv.Get(ctx, checkpointKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		c.slot = slotInline
		return cp, errNoCheckpoint
	}
	if err != nil {
		return cp, fmt.Errorf("load detections checkpoint: %w", err)
	}
	b, err := gunzip(e.Value())
	if err != nil {
		return cp, fmt.Errorf("load detections checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &cp); err != nil {
		return cp, fmt.Errorf("load detections checkpoint: %w", err)
	}
	m := cp.Chunks
	if m == nil {
		c.slot = slotInline
		return cp, nil
	}
	if m.Slot != 0 && m.Slot != 1 || m.N < 1 {
		return cp, fmt.Errorf("load detections checkpoint: manifest names slot %d with %d chunks", m.Slot, m.N)
	}
	c.slot = m.Slot
	gz := make([]byte, 0, m.Size)
	cp.Chunks = nil
	for i := range m.N {
		e, err := c.kv.Get(ctx, chunkKey(m.Slot, i))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return cp, fmt.Errorf("load detections checkpoint: chunk %d of %d is missing: %w", i+1, m.N, errSnapshotLost)
		}
		if err != nil {
			return cp, fmt.Errorf("load detections checkpoint: chunk %d of %d: %w", i+1, m.N, err)
		}
		gz = append(gz, e.Value()...)
	}
	if sum := sha256.Sum256(gz); len(gz) != m.Size || hex.EncodeToString(sum[:]) != m.SHA256 {
		return cp, fmt.Errorf("load detections checkpoint: chunks of slot %d are %d bytes with another checksum than the manifest's (%d bytes): %w",
			m.Slot, len(gz), m.Size, errSnapshotLost)
	}
	if cp.Snapshot, err = gunzip(gz); err != nil {
		return cp, fmt.Errorf("load detections checkpoint: %w: %w", err, errSnapshotLost)
	}
	return cp, nil
}

// errNoCheckpoint: the bucket holds no checkpoint (a first start).
var errNoCheckpoint = errors.New("no detections checkpoint")

// errSnapshotLost: the checkpoint's positions are readable but its chunked
// snapshot is not (missing or altered chunks): the load returns the
// positions without a snapshot.
var errSnapshotLost = errors.New("snapshot lost")

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// loadCheckpoint reads the checkpoint; ok is false when there is none.
func loadCheckpoint(ctx context.Context, kv jetstream.KeyValue) (cp checkpoint, ok bool, err error) {
	cp, err = newCheckpointStore(kv, 0).load(ctx)
	if errors.Is(err, errNoCheckpoint) {
		return cp, false, nil
	}
	return cp, err == nil, err
}
