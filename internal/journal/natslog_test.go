package journal

import (
	"log/slog"
	"strings"
	"testing"
)

// NATS notices (store recovery: "will rebuild", restored counts) are
// visible at the default level.
func TestNATSNoticesAreInfo(t *testing.T) {
	var b strings.Builder
	l := &natsLogger{log: slog.New(slog.NewTextHandler(&b, nil))}
	l.Noticef("Stream state outdated, %s", "will rebuild")
	if !strings.Contains(b.String(), "level=INFO") || !strings.Contains(b.String(), "will rebuild") {
		t.Fatalf("got %q, want an INFO line", b.String())
	}
}
