package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/health"
)

// StateFile is the file in the data directory where the embedded journal
// records what its stream held. It lives outside JetStream's files (and so
// outside the key-value buckets, which share them), so a corrupt or
// truncated block cannot take the record with it.
const StateFile = "journal-state.json"

// stateInterval is how often the record is refreshed while the journal
// runs (when the stream changed); Close writes it too.
const stateInterval = 2 * time.Second

// Lost describes events recorded as stored that were missing when the
// journal started.
type Lost struct {
	// Count is how many journal messages are missing. A message holds
	// one event (written before record batches) or a record batch of up
	// to MaxBatchEvents events of one org; the events of a lost message
	// cannot be counted, as they are gone.
	Count uint64 `json:"count"`
	// FirstSeq and LastSeq bound the sequences the missing events had
	// (the recorded range they were in).
	FirstSeq uint64 `json:"firstSeq"`
	LastSeq  uint64 `json:"lastSeq"`
	// Detected is when the loss was found.
	Detected time.Time `json:"detected"`
}

// stateRecord is the content of StateFile.
type stateRecord struct {
	Stream   string    `json:"stream"`
	FirstSeq uint64    `json:"firstSeq"`
	LastSeq  uint64    `json:"lastSeq"`
	Msgs     uint64    `json:"msgs"`
	Updated  time.Time `json:"updated"`
	// Lost is a loss not yet acknowledged by an operator; it survives
	// restarts until then.
	Lost *Lost `json:"lost,omitempty"`
}

type stateKeeper struct {
	mu        sync.Mutex
	last      stateRecord
	saved     time.Time
	detected  uint64 // events found lost since this process started
	unhealthy bool
}

// statePath is the partition's record: StateFile with one partition,
// journal-state-<stream>.json for each of several.
func (p *Partition) statePath() string {
	if len(p.j.parts) == 1 {
		return filepath.Join(p.j.dataDir, StateFile)
	}
	return filepath.Join(p.j.dataDir, "journal-state-"+p.name+".json")
}

// readState reads the record; a missing file is a first start.
func readState(path string) (stateRecord, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return stateRecord{}, false, nil
	}
	if err != nil {
		return stateRecord{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	var rec stateRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return stateRecord{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	return rec, true, nil
}

// writeState replaces the record durably: temporary file, fsync, rename,
// fsync of the directory.
func writeState(path string, rec stateRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// saveState records the streams' state when it changed (at most every
// stateInterval unless force). Embedded only.
func (j *Journal) saveState(force bool) {
	if j.srv == nil || j.dataDir == "" {
		return
	}
	for _, p := range j.parts {
		p.saveState(force)
	}
}

func (p *Partition) saveState(force bool) {
	j := p.j
	st := &p.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if !force && time.Since(st.saved) < stateInterval {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := p.stream.Info(ctx)
	if err != nil {
		return
	}
	rec := st.last
	rec.Stream, rec.FirstSeq, rec.LastSeq, rec.Msgs = p.name, info.State.FirstSeq, info.State.LastSeq, info.State.Msgs
	if !force && rec.FirstSeq == st.last.FirstSeq && rec.LastSeq == st.last.LastSeq && rec.Msgs == st.last.Msgs {
		return
	}
	rec.Updated = time.Now().UTC()
	if err := writeState(p.statePath(), rec); err != nil {
		if !st.unhealthy {
			j.log.Warn("record journal state", "path", p.statePath(), "err", err)
		}
		st.unhealthy = true
		return
	}
	st.unhealthy = false
	st.last, st.saved = rec, time.Now()
}

// checkState compares what the stream holds after recovery with the last
// record and reports events that are missing. Events dropped at the old end
// by retention (MaxAge or MaxBytes configured and FirstSeq advanced) are
// not a loss. A loss is logged as an ERROR, counted (LostTotal), raised as
// ConditionLost until AcknowledgeLost, and kept in the record so that a
// restart does not forget it.
func (j *Journal) checkState(ctx context.Context) error {
	for _, p := range j.parts {
		if err := p.checkState(ctx); err != nil {
			return err
		}
	}
	if l, ok := j.LostEvents(); ok {
		j.opts.Health.Set(ConditionLost, health.Degraded, fmt.Sprintf(
			"%d journal messages (each up to 100 events) recorded as stored (seq %d-%d) were missing at start; restore them from a backup or archive if you can, then acknowledge with POST /api/v1/journal/lost/acknowledge",
			l.Count, l.FirstSeq, l.LastSeq))
	}
	return nil
}

func (p *Partition) checkState(ctx context.Context) error {
	j := p.j
	rec, ok, err := readState(p.statePath())
	if err != nil {
		// An unreadable record cannot prove a loss; say so and start over.
		j.log.Error("journal state record unreadable; events lost before this start cannot be detected", "err", err)
		ok = false
	}
	info, err := p.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("journal info: %w", err)
	}
	cur := info.State
	st := &p.state
	if ok && rec.Stream == p.name {
		st.last = rec
		newer, err := p.countFrom(ctx, rec.LastSeq+1, cur.LastSeq)
		if err != nil {
			return err
		}
		retention := j.opts.MaxAge > 0 || j.opts.MaxBytes > 0
		if n := lostCount(rec, cur.FirstSeq, cur.Msgs, newer, retention); n > 0 {
			lost := Lost{Count: n, FirstSeq: max(rec.FirstSeq, 1), LastSeq: rec.LastSeq, Detected: time.Now().UTC()}
			if prev := rec.Lost; prev != nil {
				lost.Count += prev.Count
				lost.FirstSeq = min(lost.FirstSeq, prev.FirstSeq)
			}
			st.last.Lost = &lost
			st.detected += n
			j.log.Error("journal lost events: the store holds fewer events than it recorded before this start (corrupt or truncated files?)",
				"lost", n, "recordedFirstSeq", rec.FirstSeq, "recordedLastSeq", rec.LastSeq, "recordedMsgs", rec.Msgs,
				"firstSeq", cur.FirstSeq, "lastSeq", cur.LastSeq, "msgs", cur.Msgs, "dir", j.storeDir, "stream", p.name)
		}
	}
	p.saveState(true)
	return nil
}

// lostCount is how many of the recorded events are missing: the recorded
// count, less what retention explains at the old end, less what is still
// there (the stream's count without the events newer than the record).
func lostCount(rec stateRecord, curFirst, curMsgs, newer uint64, retention bool) uint64 {
	expected := rec.Msgs
	if retention && curFirst > rec.FirstSeq {
		expected -= min(curFirst-rec.FirstSeq, expected)
	}
	present := curMsgs - min(newer, curMsgs)
	if present >= expected {
		return 0
	}
	return expected - present
}

// countFrom counts the stream's messages with a sequence from seq on.
func (p *Partition) countFrom(ctx context.Context, seq, last uint64) (uint64, error) {
	if seq > last {
		return 0, nil
	}
	c, err := p.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       seq,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("count recent events: %w", err)
	}
	n := c.CachedInfo().NumPending
	_ = p.stream.DeleteConsumer(ctx, c.CachedInfo().Name)
	return n, nil
}

// LostTotal is how many events this process found lost at start.
func (j *Journal) LostTotal() uint64 {
	var n uint64
	for _, p := range j.parts {
		p.state.mu.Lock()
		n += p.state.detected
		p.state.mu.Unlock()
	}
	return n
}

// LostEvents returns the loss not yet acknowledged, if any. With several
// partitions it sums their losses; FirstSeq and LastSeq then bound the
// sequences over the partitions that lost messages.
func (j *Journal) LostEvents() (Lost, bool) {
	var out Lost
	found := false
	for _, p := range j.parts {
		p.state.mu.Lock()
		l := p.state.last.Lost
		p.state.mu.Unlock()
		if l == nil {
			continue
		}
		if !found {
			out, found = *l, true
			continue
		}
		out.Count += l.Count
		out.FirstSeq, out.LastSeq = min(out.FirstSeq, l.FirstSeq), max(out.LastSeq, l.LastSeq)
		if l.Detected.After(out.Detected) {
			out.Detected = l.Detected
		}
	}
	return out, found
}

// AcknowledgeLost records that an operator has seen the loss: the record
// forgets it and ConditionLost clears. It returns the loss acknowledged
// (false if there was none).
func (j *Journal) AcknowledgeLost() (Lost, bool, error) {
	l, ok := j.LostEvents()
	if !ok {
		return Lost{}, false, nil
	}
	for _, p := range j.parts {
		if err := p.acknowledgeLost(); err != nil {
			return Lost{}, false, err
		}
	}
	j.opts.Health.Clear(ConditionLost)
	return l, true, nil
}

func (p *Partition) acknowledgeLost() error {
	st := &p.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.last.Lost == nil {
		return nil
	}
	rec := st.last
	rec.Lost = nil
	if p.j.dataDir != "" {
		if err := writeState(p.statePath(), rec); err != nil {
			return fmt.Errorf("record acknowledgement: %w", err)
		}
	}
	st.last = rec
	return nil
}

// LostEvents is Journal.LostEvents for this partition alone: FirstSeq and
// LastSeq are sequences of its stream.
func (p *Partition) LostEvents() (Lost, bool) {
	p.state.mu.Lock()
	defer p.state.mu.Unlock()
	if p.state.last.Lost == nil {
		return Lost{}, false
	}
	return *p.state.last.Lost, true
}
