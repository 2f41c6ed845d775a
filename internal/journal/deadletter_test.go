package journal

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/auditstream/auditstream/internal/event"
)

// TestDeadLettersRoundTrip: a dead letter keeps the event whole (position,
// source and account included) and its reason; one written by the previous
// release (no position, Audit-Seq the message sequence) reads with the
// position of that message.
func TestDeadLettersRoundTrip(t *testing.T) {
	j := openTest(t, t.TempDir())
	defer j.Close()
	ctx := t.Context()
	pub := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	recs := []event.Record{
		{UUID: "u1", Seq: Position(7, 3), Org: "acme", EventType: "user.session.start", Published: pub,
			Source: "src", Account: "123456789012", Data: []byte(`{"uuid":"u1"}`)},
		{UUID: "u2", Seq: Position(9, 0), Org: "acme", EventType: "x", Published: pub, Data: []byte(`{"uuid":"u2"}`)},
	}
	n, err := j.WriteDeadLetters(ctx, "s1", recs, "400 bad")
	if err != nil || n != 2 {
		t.Fatalf("write: got %d, %v, want 2, nil", n, err)
	}
	old := nats.NewMsg(DeadLetterSubject("s1"))
	old.Data = []byte(`{"uuid":"u3"}`)
	for k, v := range map[string]string{dlHeaderReason: "old reason", dlHeaderSeq: "5", headerUUID: "u3", headerOrg: "acme",
		headerType: "y", headerPublished: "1767323045000000000"} {
		old.Header.Set(k, v)
	}
	if _, err := j.JetStream().PublishMsg(ctx, old); err != nil {
		t.Fatal(err)
	}
	want := append(recs, event.Record{UUID: "u3", Seq: Position(5, 0), Org: "acme", EventType: "y",
		Published: time.Unix(0, 1767323045000000000).UTC(), Data: []byte(`{"uuid":"u3"}`)})
	reasons := []string{"400 bad", "400 bad", "old reason"}
	for i := range 3 {
		m, err := j.dead.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		dl, err := DecodeDeadLetter(RawMessage(m))
		if err != nil {
			t.Fatalf("decode %d: %v", i+1, err)
		}
		got, w := dl.Record, want[i]
		if got.UUID != w.UUID || got.Seq != w.Seq || got.Org != w.Org || got.EventType != w.EventType || !got.Published.Equal(w.Published) ||
			got.Source != w.Source || got.Account != w.Account || string(got.Data) != string(w.Data) || dl.Reason != reasons[i] || dl.Seq != uint64(i+1) {
			t.Errorf("dead letter %d: got %+v %q seq %d, want %+v %q", i+1, got, dl.Reason, dl.Seq, w, reasons[i])
		}
	}
	if _, err := DecodeDeadLetter(Message{Seq: 4, Data: []byte("x")}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("no headers: got %v, want ErrCorrupt", err)
	}
}
