package sinktest

import (
	"context"
	"testing"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// sizedSink is a sink that only has limits and an encoding overhead.
type sizedSink struct {
	lim      sink.Limits
	overhead int
}

func (s sizedSink) Limits() sink.Limits                     { return s.lim }
func (s sizedSink) EncodedSize(r event.Record) int          { return len(r.Data) + s.overhead }
func (s sizedSink) Write(context.Context, sink.Batch) error { return nil }
func (s sizedSink) Verify(context.Context) error            { return nil }
func (s sizedSink) Close(context.Context) error             { return nil }

func TestBatches(t *testing.T) {
	recs := Records(200, 20, 900)
	for _, tc := range []struct {
		name string
		lim  sink.Limits
	}{
		{"events", sink.Limits{MaxEvents: 9}},
		{"bytes", sink.Limits{MaxBytes: 3000}},
		{"both", sink.Limits{MaxEvents: 5, MaxBytes: 2500, MaxEventBytes: 2000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sizedSink{lim: tc.lim, overhead: 3}
			batches, err := Batches(s, recs)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for i, b := range batches {
				size := 0
				for _, r := range b.Records {
					size += s.EncodedSize(r)
					if r.Seq != uint64(n+1) {
						t.Fatalf("batch %d: got seq %d, want %d", i, r.Seq, n+1)
					}
					n++
				}
				if tc.lim.MaxEvents > 0 && len(b.Records) > tc.lim.MaxEvents {
					t.Errorf("batch %d events: got %d, want at most %d", i, len(b.Records), tc.lim.MaxEvents)
				}
				if tc.lim.MaxBytes > 0 && size > tc.lim.MaxBytes {
					t.Errorf("batch %d bytes: got %d, want at most %d", i, size, tc.lim.MaxBytes)
				}
			}
			if n != len(recs) {
				t.Errorf("records in batches: got %d, want %d", n, len(recs))
			}
		})
	}
	if _, err := Batches(sizedSink{lim: sink.Limits{MaxEventBytes: 100}}, recs); err == nil {
		t.Error("batches with records over MaxEventBytes: got nil, want an error")
	}
}

func TestRecordOfSize(t *testing.T) {
	s := sizedSink{overhead: 1}
	for _, size := range []int{400, 1000, 65536} {
		r, ok := RecordOfSize(s, 7, size)
		if !ok || s.EncodedSize(r) != size {
			t.Errorf("record of size %d: got %d (ok %v)", size, s.EncodedSize(r), ok)
		}
		if id, err := RecordID(r.Data); err != nil || id != r.UUID {
			t.Errorf("record id: got %q (%v), want %q", id, err, r.UUID)
		}
	}
}
