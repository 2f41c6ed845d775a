package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/wire"
)

// TestNewTail: a view ends with readOnly, created, lastUpdated (Okta's
// format, UTC, milliseconds) and _links, whose lifecycle link follows
// the status.
func TestNewTail(t *testing.T) {
	at := time.Date(2026, 12, 4, 11, 0, 0, 5e6, time.FixedZone("x", 3600))
	type view struct {
		ID string `json:"id"`
		wire.Tail
	}
	tests := []struct {
		name     string
		active   bool
		readOnly bool
		want     string
	}{
		{"active", true, false, `{"id":"a","created":"2026-12-04T10:00:00.005Z","lastUpdated":"2026-12-04T10:00:00.005Z","_links":` +
			`{"deactivate":{"href":"/r/a/lifecycle/deactivate","method":"POST"},"self":{"href":"/r/a","method":"GET"}}}`},
		{"inactive, read-only", false, true, `{"id":"a","readOnly":true,"created":"2026-12-04T10:00:00.005Z","lastUpdated":"2026-12-04T10:00:00.005Z",` +
			`"_links":{"activate":{"href":"/r/a/lifecycle/activate","method":"POST"},"self":{"href":"/r/a","method":"GET"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(view{ID: "a", Tail: wire.NewTail("/r/a", tt.active, tt.readOnly, at, at)})
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got %s, want %s", b, tt.want)
			}
		})
	}
}
