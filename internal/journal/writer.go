package journal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
)

// The writer is the journal's one appender. Append hands it requests; it
// takes every request queued at once (group commit: no added latency when
// idle, full batches under load), drops the events its uuid window knows,
// cuts record batches per org, and publishes them pipelined. Each batch
// has a message id and expects the previous batch's id as the stream's
// last (Nats-Expected-Last-Msg-Id; the first after a sync expects the last
// sequence instead), so another writer's message landing in between (a
// second node, issue 13) fails every batch after it rather than leaving a
// hole: the writer then syncs (reads what it did not write into its
// window) and tries again.
//
// The writer also keeps each org's hash chain head (chain.go): every batch
// it cuts stores the org's head before it, read once per org from the
// org's last batch. Anything that leaves the writer unsure what landed (a
// failed group, a sync that read another writer's batches) forgets the
// heads concerned, and the next batch of such an org reads its head from
// the journal again, so two writers on one stream keep one chain per org.
//
// On a replicated stream (Replicas > 1) each batch expects the sequence it
// follows instead (Nats-Expected-Last-Sequence: the last known, plus one
// per batch before it in the group). A clustered stream checks an expected
// last sequence before it proposes the message, but an expected last msg
// id only as its replicas apply it, and a mismatch there is a write error
// that takes the whole stream down on every server (nats-server 2.15:
// "stream write error: last msgid mismatch", found by test/cluster with
// two nodes writing). The price: batches of a group after foreign writes
// can be stored while earlier ones are refused and stored after them on
// the retry (order across those batches, under concurrent writers only).

// maxGroupEvents bounds the events of one group commit.
const maxGroupEvents = 20_000

// fenceRetries is how often a group is retried after another writer's
// message landed in between.
const fenceRetries = 3

type appendReq struct {
	ctx context.Context
	evs []event.Record
	// leaves are the events' chain leaves, hashed by the caller's
	// goroutine so the one writer goroutine only chains them.
	leaves []Head
	res    Result
	err    *AppendError
	done   chan struct{}
	// state per event while the writer works on it: -1 not stored yet,
	// 0 stored, 1 duplicate, 2+k duplicate of event k-2 of this group's
	// pending list (resolved at the end).
	state []int
}

// Event states in appendReq.state.
const (
	stNew = iota - 1
	stStored
	stDuplicate
	stDupOfPending // + index into writer.pending
)

// pendingEv is an event of the current group on its way to a batch.
type pendingEv struct {
	req *appendReq
	i   int
	key uint64
}

// writer is the state of the writer goroutine.
type writer struct {
	j *Journal
	// p is the partition the writer appends to (one writer per partition).
	p      *Partition
	reqs   chan *appendReq
	window *dedupWindow
	nonce  string
	n      uint64
	// synced is false until the tail was read into the window; lastSeq is
	// the stream's last sequence the writer knows, lastID the message id
	// of the last batch it stored ("" after a sync: expect lastSeq).
	synced  bool
	lastSeq uint64
	lastID  string
	// unfenced makes the next batch expect nothing (see commit).
	unfenced bool
	// heads are the chain heads of the orgs whose head the writer knows:
	// the head after the org's last stored batch.
	heads map[string]Head
	// headSeqs are, on a replicated stream, the sequence of the org's
	// last batch for orgs in heads (see publishGroup's rounds).
	headSeqs map[string]uint64
	hasher   Hasher
	// confirmed caches the last message read to confirm a digest hit.
	confirmedSeq  uint64
	confirmedRecs []event.Record
	// reused between groups
	pending []pendingEv
	orgs    []string
	byOrg   map[string][]int // org → indexes into pending
	local   map[uint64]int   // digest → index into pending
	bufs    [][]byte
	// zbufs are buffers for compressed batches (see encode).
	zbufs [][]byte
	// bufCap sizes a new batch buffer (from the last batch's size).
	bufCap int
	recs   []event.Record
	leaves []Head
}

func newWriter(j *Journal, p *Partition) *writer {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &writer{j: j, p: p, reqs: make(chan *appendReq, 256),
		window: newDedupWindow(j.opts.DuplicateWindow, j.opts.DuplicateWindowMaxIDs),
		nonce:  hex.EncodeToString(b[:]), byOrg: map[string][]int{}, local: map[uint64]int{},
		heads: map[string]Head{}, headSeqs: map[string]uint64{}}
}

// Append stores events and returns once JetStream has acknowledged every
// one of them, or found it already stored (same uuid in the same org
// within the de-duplication window: counted in Result.Duplicates). It
// gives up when JetStream acknowledges nothing for Options.AppendTimeout.
// On error it returns an *AppendError that lists the events that were
// stored; appending the others (or all) again is safe because uuids
// de-duplicate. While the store is known to be failing (see
// Options.Health) Append fails at once and stores nothing. Append does
// not keep evs (nor their Data) after it returns.
func (j *Journal) Append(ctx context.Context, evs []event.Record) (Result, error) {
	if reason, full := j.health.fastFail(); reason != "" {
		return Result{}, &AppendError{Full: full, Err: errors.New(reason)}
	}
	if len(evs) == 0 {
		return Result{}, nil
	}
	if !j.nc.IsConnected() {
		// Reconnecting: publishes would wait in the client's buffer.
		// Answer at once so the producer retries (ingest: 503).
		return Result{}, &AppendError{Err: fmt.Errorf("not connected to NATS (%s)", j.nc.Status())}
	}
	if len(j.parts) > 1 {
		p := j.PartitionFor(evs[0].Org)
		for i := range evs {
			if j.PartitionFor(evs[i].Org) != p {
				return j.appendSplit(ctx, evs)
			}
		}
		return p.append(ctx, evs)
	}
	return j.parts[0].append(ctx, evs)
}

// append hands evs, all of orgs of this partition, to its writer.
func (p *Partition) append(ctx context.Context, evs []event.Record) (Result, error) {
	req := &appendReq{ctx: ctx, evs: evs, leaves: make([]Head, len(evs)), done: make(chan struct{})}
	var hs Hasher
	for i := range evs {
		req.leaves[i] = hs.Leaf(evs[i].Data)
	}
	select {
	case p.writer.reqs <- req:
	case <-ctx.Done():
		return Result{}, &AppendError{Err: ctx.Err()}
	case <-p.writerDone:
		return Result{}, &AppendError{Err: errors.New("journal closed")}
	}
	// The writer may be reading evs: wait for it even if ctx ends (it
	// gives up within AppendTimeout).
	select {
	case <-req.done:
	case <-p.writerDone:
		return Result{}, &AppendError{Err: errors.New("journal closed")}
	}
	if req.err != nil {
		return req.res, req.err
	}
	return req.res, nil
}

// run is the writer goroutine; it ends when ctx does.
func (w *writer) run(ctx context.Context) {
	var group []*appendReq
	for {
		select {
		case r := <-w.reqs:
			group = append(group[:0], r)
		case <-ctx.Done():
			return
		}
		n := len(group[0].evs)
	more:
		for n < maxGroupEvents {
			select {
			case r := <-w.reqs:
				group = append(group, r)
				n += len(r.evs)
			default:
				break more
			}
		}
		w.commit(ctx, group)
		for _, r := range group {
			close(r.done)
		}
		clear(group)
	}
}

// commit stores a group of requests and fills in their results.
func (w *writer) commit(ctx context.Context, group []*appendReq) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = &AppendError{Err: err}
			continue
		}
		r.state = slices.Repeat([]int{stNew}, len(r.evs))
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	var err error
	fenced := false
	for attempt := 0; ; attempt++ {
		if !w.synced {
			n, err2 := w.sync(ctx)
			if err2 != nil {
				err = fmt.Errorf("read the journal's tail: %w", err2)
				break
			}
			if fenced && n == 0 {
				// Fenced, yet no message after the last one we know: the
				// server's last sequence is not its last stored message
				// (a block repaired at start keeps the old last
				// sequence). Publish the next batch without expecting
				// one, then chain from it.
				w.j.log.Warn("journal: the server's last sequence is not its last stored message (repaired store?); appending once without the fence")
				w.unfenced = true
			}
		}
		err = w.publishGroup(ctx, live)
		if err == nil || !isFenced(err) || attempt >= fenceRetries {
			break
		}
		fenced = true
		w.j.log.Info("journal append fenced by another writer; reading its events and retrying", "err", err)
	}
	w.finish(live, err)
	// Keep no reference to the requests' events: callers reuse them.
	clear(w.pending)
	clear(w.recs)
	w.pending, w.recs = w.pending[:0], w.recs[:0]
}

// publishGroup publishes what is not stored yet of the group's requests.
func (w *writer) publishGroup(ctx context.Context, group []*appendReq) error {
	now := time.Now()
	w.window.expire(now)
	w.pending = w.pending[:0]
	w.orgs = w.orgs[:0]
	clear(w.byOrg)
	clear(w.local)
	for _, r := range group {
		for i := range r.evs {
			if r.state[i] >= stDupOfPending {
				// A copy of an event of the previous attempt's pending
				// list, which is rebuilt: look at it again.
				r.state[i] = stNew
			}
			if r.state[i] != stNew {
				continue
			}
			ev := &r.evs[i]
			key := w.window.key(ev.Org, ev.UUID)
			if k, ok := w.local[key]; ok {
				p := w.pending[k]
				if o := &p.req.evs[p.i]; o.Org == ev.Org && o.UUID == ev.UUID {
					r.state[i] = stDupOfPending + k
					continue
				}
			}
			if seq, ok := w.window.lookup(key); ok {
				dup, err := w.confirm(ctx, seq, ev.Org, ev.UUID)
				if err != nil {
					return err
				}
				if dup {
					r.state[i] = stDuplicate
					continue
				}
			}
			w.local[key] = len(w.pending)
			if _, ok := w.byOrg[ev.Org]; !ok {
				w.orgs = append(w.orgs, ev.Org)
			}
			w.byOrg[ev.Org] = append(w.byOrg[ev.Org], len(w.pending))
			w.pending = append(w.pending, pendingEv{req: r, i: i, key: key})
		}
	}
	if len(w.pending) == 0 {
		return nil
	}
	type batch struct {
		idx  []int // into pending
		subj string
		buf  []byte // the batch, uncompressed
		zbuf []byte // the batch compressed when that is what was published, else nil
		f    jetstream.PubAckFuture
	}
	var batches []batch
	js := w.j.pub.Load().js
	// On replicated streams each batch expects the last sequence it
	// follows (see seqFence); fence is the next one's, noFence says this
	// group publishes without a fence (after a repaired store). There each
	// batch also expects its org's last batch by sequence (headSeqs), and
	// an org has one batch in flight at a time (rounds): a batch can only
	// land right after its org's predecessor, so no other writer's batch
	// of the org, nor a refused one of ours, leaves its chain forked.
	seqFence, fence, noFence := w.j.opts.Replicas > 1, w.lastSeq, false
	for {
		var pubErr error
		batches = batches[:0]
		for _, org := range w.orgs {
			idx := w.byOrg[org]
			for len(idx) > 0 && pubErr == nil {
				n, size := 0, 0
				for n < len(idx) && n < MaxBatchEvents {
					l := len(w.pending[idx[n]].req.evs[w.pending[idx[n]].i].Data)
					if n > 0 && size+l > maxBatchBytes {
						break
					}
					size += l
					n++
				}
				w.recs = w.recs[:0]
				w.leaves = w.leaves[:0]
				for _, k := range idx[:n] {
					p := w.pending[k]
					w.recs = append(w.recs, p.req.evs[p.i])
					w.leaves = append(w.leaves, p.req.leaves[p.i])
				}
				prev, err := w.chainHead(ctx, org)
				if err != nil {
					pubErr = err
					break
				}
				buf, zbuf := w.encode(org, w.recs, &prev)
				m := nats.NewMsg(w.p.subject(org))
				m.Data = cmpBytes(zbuf, buf)
				w.n++
				id := batchMsgID(w.nonce, w.n, n)
				opts := []jetstream.PublishOpt{jetstream.WithMsgID(id), jetstream.WithExpectStream(w.p.name),
					jetstream.WithStallWait(w.j.opts.AppendTimeout)}
				if hs, ok := w.headSeqs[org]; ok && seqFence {
					opts = append(opts, jetstream.WithExpectLastSequencePerSubject(hs))
				}
				switch {
				case w.unfenced || noFence:
					w.unfenced, noFence = false, seqFence
				case seqFence:
					opts = append(opts, jetstream.WithExpectLastSequence(fence))
					fence++
				case w.lastID != "":
					opts = append(opts, jetstream.WithExpectLastMsgID(w.lastID))
				default:
					opts = append(opts, jetstream.WithExpectLastSequence(w.lastSeq))
				}
				f, err := js.PublishMsgAsync(m, opts...)
				if err != nil {
					pubErr = fmt.Errorf("publish: %w", err)
					w.reuse(buf, zbuf)
					break
				}
				w.lastID = id
				head := prev
				for _, leaf := range w.leaves {
					head = w.hasher.Next(head, leaf)
				}
				w.heads[org] = head
				delete(w.headSeqs, org) // known again from the acknowledgement
				batches = append(batches, batch{idx: idx[:n], subj: m.Subject, buf: buf, zbuf: zbuf, f: f})
				idx = idx[n:]
				if seqFence {
					break // one batch of the org per round
				}
			}
			w.byOrg[org] = idx
		}
		// Wait for every published batch, also after a failure, so the
		// requests can say exactly which events were stored.
		var firstErr error
		first := w.j.opts.AppendTimeout
		if pubErr != nil {
			first = time.Millisecond // publishing stalled for AppendTimeout already
		}
		idle := time.NewTimer(first)
		gaveUp := false
		for _, b := range batches {
			var ack *jetstream.PubAck
			if gaveUp {
				select {
				case ack = <-b.f.Ok():
				default:
				}
			} else {
				select {
				case ack = <-b.f.Ok():
					idle.Reset(w.j.opts.AppendTimeout)
				case err := <-b.f.Err():
					firstErr = cmpErr(firstErr, err)
				case <-idle.C:
					gaveUp = true
					firstErr = cmpErr(firstErr, fmt.Errorf("%w: no acknowledgement for %s", errStalled, w.j.opts.AppendTimeout))
				case <-ctx.Done():
					gaveUp = true
					firstErr = cmpErr(firstErr, ctx.Err())
				}
			}
			if ack != nil {
				w.j.written.batches.Add(uint64(len(b.buf)))
				w.j.written.stored.Add(uint64(len(cmpBytes(b.zbuf, b.buf))))
				w.lastSeq = max(w.lastSeq, ack.Sequence)
				p0 := w.pending[b.idx[0]]
				w.headSeqs[p0.req.evs[p0.i].Org] = ack.Sequence
				for _, k := range b.idx {
					p := w.pending[k]
					p.req.state[p.i] = stStored
					w.window.add(p.key, ack.Sequence, now)
				}
			}
			raw := b.buf
			if ack != nil && w.p.watched() {
				// The followers' feed reads the batch from here instead of
				// from the server (stored.go), uncompressed; the buffer is
				// now theirs.
				w.p.stored(Message{Subject: b.subj, Data: b.buf, Seq: ack.Sequence})
				raw = nil
			}
			if !gaveUp {
				// A buffer whose future is still open may be resent by the
				// client: reuse only answered ones.
				w.reuse(raw, b.zbuf)
			}
		}
		idle.Stop()
		err := cmpErr(firstErr, pubErr)
		if err != nil {
			// Batches after a failed one expected it as the last message and
			// failed too; one that timed out may still land. Read the tail
			// before the next publish, so the window knows what did land.
			w.synced, w.lastID = false, ""
			// Which of the batches landed is known again after the sync;
			// until then no head is.
			clear(w.heads)
			clear(w.headSeqs)
			return err
		}
		if !seqFence || len(batches) == 0 {
			return nil
		}
		fence = w.lastSeq // the next round follows what this one stored
	}
}

// chainHead returns org's chain head, reading it from the org's last
// record batch when the writer does not know it: the head after that
// batch, or the zero head (a new chain) when the org has none or only
// unchained ones.
func (w *writer) chainHead(ctx context.Context, org string) (Head, error) {
	if h, ok := w.heads[org]; ok {
		return h, nil
	}
	m, err := w.p.stream.GetLastMsgForSubject(ctx, w.p.subject(org))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		w.heads[org], w.headSeqs[org] = Head{}, 0
		return Head{}, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("read the chain head of org %s: %w", org, err)
	}
	h, err := batchHeadAfter(&w.hasher, RawMessage(m))
	if err != nil {
		// The org's chain cannot continue from an unreadable batch: a
		// new chain starts here, which verification reports as a break.
		w.j.log.Error("journal: the org's last record batch is unreadable; its hash chain restarts (verification will report the break)",
			"org", org, "seq", m.Sequence, "err", err)
		h = Head{}
	}
	w.heads[org], w.headSeqs[org] = h, m.Sequence
	return h, nil
}

// batchHeadAfter is the chain head after a record batch: the zero head
// for an unchained one (the chain starts after it).
func batchHeadAfter(hs *Hasher, m Message) (Head, error) {
	prev, chained := ChainedBatch(m.Data)
	if !chained {
		return Head{}, nil
	}
	recs, err := Decode(m, nil)
	if err != nil {
		return Head{}, err
	}
	for i := range recs {
		prev = hs.Next(prev, hs.Leaf(recs[i].Data))
	}
	return prev, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// encode returns the record batch of recs in a buffer of its own (the
// client may resend a message until it is answered), reusing one whose
// batch was answered, and, when the journal compresses and the block is
// smaller, the batch compressed (zbuf, what is published; buf is what the
// followers read, see stored.go).
func (w *writer) encode(org string, recs []event.Record, prev *Head) (buf, zbuf []byte) {
	var e batchEncoder
	if n := len(w.bufs); n > 0 {
		e.buf, w.bufs = w.bufs[n-1], w.bufs[:n-1]
	} else {
		e.buf = make([]byte, 0, w.bufCap) // the last batch's size: no regrowth
	}
	buf = e.encode(org, recs, prev)
	w.bufCap = len(buf) + len(buf)/8
	if w.j.opts.Compression == CompressNone {
		return buf, nil
	}
	var dst []byte
	if n := len(w.zbufs); n > 0 {
		dst, w.zbufs = w.zbufs[n-1], w.zbufs[:n-1]
	}
	zbuf = e.compress(dst)
	if zbuf == nil && dst != nil {
		w.zbufs = append(w.zbufs, dst)
	}
	return buf, zbuf
}

// reuse takes back answered batch buffers (nil ones are skipped).
func (w *writer) reuse(buf, zbuf []byte) {
	if buf != nil {
		w.bufs = append(w.bufs, buf)
	}
	if zbuf != nil {
		w.zbufs = append(w.zbufs, zbuf)
	}
}

// confirm reports whether message seq holds org's event uuid (a window
// hit is a digest match). A message gone from the journal (retention)
// confirms nothing: the event is stored again.
func (w *writer) confirm(ctx context.Context, seq uint64, org, uuid string) (bool, error) {
	if seq != w.confirmedSeq {
		m, err := w.p.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read message %d to confirm a duplicate: %w", seq, err)
		}
		recs, err := Decode(RawMessage(m), w.confirmedRecs[:0])
		if err != nil {
			return false, nil
		}
		w.confirmedSeq, w.confirmedRecs = seq, recs
	}
	for i := range w.confirmedRecs {
		if r := &w.confirmedRecs[i]; r.UUID == uuid && r.Org == org {
			return true, nil
		}
	}
	return false, nil
}

// sync reads the messages after lastSeq into the window (all of the
// de-duplication window at the first sync) and makes the next publish
// expect the stream's last sequence.
func (w *writer) sync(ctx context.Context) (read int, err error) {
	from := ScanFrom{FromSeq: w.lastSeq + 1}
	if w.lastSeq == 0 {
		from = ScanFrom{Since: time.Now().Add(-w.j.opts.DuplicateWindow)}
	}
	last, err := w.p.scan(ctx, "", from, func(recs []event.Record, seq uint64, arrived time.Time) bool {
		read++
		if len(recs) > 0 {
			// Another writer's batch (or one of ours whose answer was
			// lost): the org's head is read again before its next batch.
			delete(w.heads, recs[0].Org)
			delete(w.headSeqs, recs[0].Org)
		}
		for i := range recs {
			w.window.add(w.window.key(recs[i].Org, recs[i].UUID), seq, arrived)
		}
		return true
	})
	if err != nil {
		return read, err
	}
	w.lastSeq, w.lastID, w.synced = last, "", true
	return read, nil
}

// finish resolves each request's result from the states of its events.
func (w *writer) finish(group []*appendReq, err error) {
	for _, r := range group {
		var stored []int
		complete := true
		for i, st := range r.state {
			if st >= stDupOfPending {
				p := w.pending[st-stDupOfPending]
				if p.req.state[p.i] == stStored {
					st = stDuplicate
				} else {
					st = stNew
				}
				r.state[i] = st
			}
			switch st {
			case stStored:
				r.res.Stored++
				stored = append(stored, i)
			case stDuplicate:
				r.res.Duplicates++
				stored = append(stored, i)
			default:
				complete = false
			}
		}
		if complete {
			continue
		}
		cause := err
		if cause == nil {
			cause = errors.New("events not stored")
		}
		r.err = w.j.appendError(stored, cause)
	}
	if err == nil {
		w.j.health.appendOK(w.j)
	}
}

// appendError classifies a failed append and updates the journal's health.
func (j *Journal) appendError(stored []int, err error) *AppendError {
	if IsCapReached(err) {
		// journal.maxBytes, not a failing store: retention frees space.
		j.signalFull()
		return &AppendError{Stored: stored, CapReached: true, Err: err}
	}
	full := isFull(err)
	var apiErr *jetstream.APIError
	if !full && (errors.Is(err, context.Canceled) || errors.As(err, &apiErr)) {
		// The caller gave up, or JetStream answered with a refusal (a
		// stream limit, a bad message, another writer's message first):
		// none says the store is failing.
		return &AppendError{Stored: stored, Err: err}
	}
	if diag := j.diagnose(); diag != "" {
		err = fmt.Errorf("%w (%s)", err, diag)
		full = full || strings.Contains(diag, "no space left")
	}
	j.health.appendFailed(j, err.Error(), full)
	return &AppendError{Stored: stored, Full: full, Err: err}
}

// isFenced reports a publish refused because another message landed
// before it (wrong last message id or sequence).
func isFenced(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10070)
}

// cmpBytes is the first of a and b that is not nil.
func cmpBytes(a, b []byte) []byte {
	if a != nil {
		return a
	}
	return b
}
