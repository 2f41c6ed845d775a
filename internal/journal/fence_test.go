package journal

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestJetStreamFencing pins the JetStream behaviour the journal v2 design
// (docs/journal.md, "Several writers") relies on: a writer pipelines three
// batches after a foreign write it did not see. Expecting the last sequence
// on each publish lets the later ones in after the foreign write; chaining
// message ids with Nats-Expected-Last-Msg-Id rejects all three.
func TestJetStreamFencing(t *testing.T) {
	tests := []struct {
		name string
		// opts returns the publish options of the writer's i-th batch.
		opts func(i int) []jetstream.PublishOpt
		// wantStored lists which of the three batches get stored.
		wantStored []bool
	}{
		{
			name: "expected last sequence",
			opts: func(i int) []jetstream.PublishOpt {
				// The writer saw sequence 1 (its own) as the last.
				return []jetstream.PublishOpt{jetstream.WithExpectLastSequence(uint64(1 + i))}
			},
			wantStored: []bool{false, true, true},
		},
		{
			name: "chained message ids",
			opts: func(i int) []jetstream.PublishOpt {
				prev := fmt.Sprintf("w/%d", i)
				return []jetstream.PublishOpt{jetstream.WithMsgID(fmt.Sprintf("w/%d", i+1)), jetstream.WithExpectLastMsgID(prev)}
			},
			wantStored: []bool{false, false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Open(t.Context(), Options{DataDir: t.TempDir()}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			js := j.JetStream()
			if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "RB", Subjects: []string{"rb.>"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := js.Publish(t.Context(), "rb.acme", []byte("writer"), jetstream.WithMsgID("w/0")); err != nil {
				t.Fatal(err)
			}
			// Another writer appends; the first one does not know.
			if _, err := js.Publish(t.Context(), "rb.acme", []byte("foreign"), jetstream.WithMsgID("x/0")); err != nil {
				t.Fatal(err)
			}
			var futures []jetstream.PubAckFuture
			for i := range tt.wantStored {
				f, err := js.PublishAsync("rb.acme", []byte("writer"), tt.opts(i)...)
				if err != nil {
					t.Fatal(err)
				}
				futures = append(futures, f)
			}
			for i, f := range futures {
				select {
				case <-f.Ok():
					if !tt.wantStored[i] {
						t.Errorf("batch %d: got stored, want rejected", i)
					}
				case err := <-f.Err():
					if tt.wantStored[i] {
						t.Errorf("batch %d: got %v, want stored", i, err)
					} else if !strings.Contains(err.Error(), "wrong last") {
						t.Errorf("batch %d: got %v, want a wrong-last error", i, err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no acknowledgement")
				}
			}
		})
	}
}
