package query

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// While the index reads the journal at start, /readyz's board holds
// ConditionIndex (NotReady); it clears once every message the journal held
// when Run started is indexed, and stays clear as new events come.
func TestIndexReadiness(t *testing.T) {
	j := journaltest.Open(t)
	pad := strings.Repeat("x", 1000)
	for r := range 20 {
		evs := make([]event.Record, 1000)
		for i := range evs {
			ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"r%d-%d","eventType":"user.session.start","pad":%q}`, r, i, pad), "acme", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			evs[i] = ev
		}
		if _, err := j.Append(t.Context(), evs); err != nil {
			t.Fatal(err)
		}
	}
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	board := &health.Board{}
	e, err := New(t.Context(), j, Config{Health: board}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if c := board.Conditions(); board.Ready() || len(c) != 1 || c[0].Name != ConditionIndex {
		t.Fatalf("before Run: got %+v, want %s NotReady", c, ConditionIndex)
	}
	go func() { _ = e.Run(t.Context()) }()
	wait.Eventually(t, "index caught up", board.Ready, wait.Within(20*time.Second), wait.Every(time.Millisecond))
	if hw := e.Index().HighWater(); hw < last {
		t.Errorf("ready with the index at message %d, want at least %d (the journal's last at start)", hw, last)
	}
	if _, err := j.Append(t.Context(), []event.Record{eventtest.Parse(t, `{"uuid":"later","eventType":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	if !board.Ready() {
		t.Errorf("after a new event: got %+v, want ready", board.Conditions())
	}
}
