package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
)

// maxHookBody bounds one delivery the receiver reads.
const maxHookBody = 256 << 20

// receiver is the webhook the bench streams deliver to, stream s at
// /hook/<s> (the s3 reader feeds it too, as stream 0). It records when
// each event of the run first arrived, indexed by the event's index, and
// checks that it arrived through the stream whose filter selects it.
type receiver struct {
	gen   *generator
	route *route
	start time.Time
	// at[i] is the receipt time of event i in ns since start, plus one
	// (zero: not received).
	at []atomic.Int64
	// perStream[s] counts the distinct events stream s delivered.
	perStream []atomic.Int64

	received   atomic.Int64 // distinct events of this run
	duplicates atomic.Int64 // events of this run received again
	foreign    atomic.Int64 // events of other runs or producers
	badBodies  atomic.Int64 // deliveries the receiver could not read
	misrouted  atomic.Int64 // events of this run a stream's filter does not select
	first      atomic.Int64 // ns since start of the first receipt, plus one
	last       atomic.Int64 // ns since start of the last first-receipt
}

func newReceiver(gen *generator, rt *route, events int, start time.Time) *receiver {
	return &receiver{gen: gen, route: rt, start: start, at: make([]atomic.Int64, events), perStream: make([]atomic.Int64, rt.streams())}
}

// hookEvent is what the receiver reads of an event: its uuid, at the top
// or, for EventBridge-shaped deliveries, in detail.
type hookEvent struct {
	UUID   string `json:"uuid"`
	Detail *struct {
		UUID string `json:"uuid"`
	} `json:"detail"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	num, ok := strings.CutPrefix(r.URL.Path, "/hook/")
	stream, err := strconv.Atoi(num)
	if !ok || err != nil || stream < 0 || stream >= len(rc.perStream) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var body io.Reader = io.LimitReader(r.Body, maxHookBody)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			rc.badBodies.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = io.LimitReader(zr, maxHookBody)
	}
	buf := bodyBufs.Get().(*bytes.Buffer)
	defer bodyBufs.Put(buf)
	buf.Reset()
	if r.ContentLength > 0 && r.ContentLength <= maxHookBody {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // room for the read that finds the end
	}
	_, err = buf.ReadFrom(body)
	raw := buf.Bytes()
	if err != nil {
		rc.badBodies.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ids, ok := scanHookUUIDs(raw, nil)
	if !ok {
		events, err := decodeHook(raw)
		if err != nil {
			rc.badBodies.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ids = ids[:0]
		for _, e := range events {
			id := e.UUID
			if id == "" && e.Detail != nil {
				id = e.Detail.UUID
			}
			ids = append(ids, id)
		}
	}
	now := int64(time.Since(rc.start)) + 1
	for _, id := range ids {
		rc.record(id, stream, now)
	}
	w.WriteHeader(http.StatusOK)
}

// bodyBufs are the receiver's request body buffers, reused and grown to
// the request's length first: reading a 1 MB delivery into a fresh,
// growing buffer cost the load tool, which shares the machine with the
// server, as much as scanning it.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// decodeHook reads a JSON array of events, or events one after another
// (NDJSON or a single object).
func decodeHook(raw []byte) ([]hookEvent, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var events []hookEvent
		err := json.Unmarshal(raw, &events)
		return events, err
	}
	var events []hookEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	for dec.More() {
		var e hookEvent
		if err := dec.Decode(&e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

// record notes the receipt of the event with uuid id through stream at
// now. An event the stream's filter does not select counts as misrouted,
// not as received.
func (rc *receiver) record(id string, stream int, now int64) {
	idx, ok := rc.gen.index(id)
	if !ok || idx >= uint64(len(rc.at)) {
		rc.foreign.Add(1)
		return
	}
	if rc.route.stream(rc.gen, idx) != stream {
		rc.misrouted.Add(1)
		return
	}
	if !rc.at[idx].CompareAndSwap(0, now) {
		rc.duplicates.Add(1)
		return
	}
	rc.received.Add(1)
	rc.perStream[stream].Add(1)
	rc.first.CompareAndSwap(0, now)
	for {
		l := rc.last.Load()
		if now <= l || rc.last.CompareAndSwap(l, now) {
			break
		}
	}
}
