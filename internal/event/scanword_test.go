package event_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// TestStringScanEveryOffset puts each kind of byte a string scan must
// look at (quote, escape, control byte, invalid UTF-8, a multi-byte
// character) at every offset of a string value, so that the word-at-a-time
// scan meets it in every lane of a word and in the byte-wise tail: valid
// strings are accepted and stored as they were, and errors name the exact
// byte.
func TestStringScanEveryOffset(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const head = `{"eventType":"x","s":"`
	for _, tc := range []struct {
		name, special string
		wantErr       string // with %d for the special byte's offset; "" when valid
	}{
		{"escaped quote", `\"`, ""},
		{"escaped backslash", `\\`, ""},
		{"unicode escape", `\u00e9`, ""},
		{"two-byte UTF-8", "é", ""},
		{"four-byte UTF-8", "😀", ""},
		{"byte 0x7f", "\x7f", ""},
		{"control byte", "\x01", "at byte %d"},
		{"invalid UTF-8", "\xff", "invalid UTF-8 at byte %d"},
		{"truncated UTF-8", "\xc3", "invalid UTF-8 at byte %d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for pre := range 20 {
				for post := range 10 {
					raw := head + strings.Repeat("a", pre) + tc.special + strings.Repeat("b", post) + `"}`
					ev, err := event.Parse([]byte(raw), "acme", now)
					if tc.wantErr == "" {
						if err != nil {
							t.Fatalf("%q: got %v, want it accepted", raw, err)
						}
						if !strings.Contains(string(ev.Data), strings.Repeat("a", pre)+tc.special+strings.Repeat("b", post)) {
							t.Fatalf("%q: stored %q, want the string as sent", raw, ev.Data)
						}
						continue
					}
					want := fmt.Sprintf(tc.wantErr, len(head)+pre)
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Fatalf("%q: got error %v, want one with %q", raw, err, want)
					}
				}
			}
		})
	}
}
