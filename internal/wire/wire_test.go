package wire_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/wire"
)

// TestTime: created and lastUpdated are written in Okta's format, in UTC
// with milliseconds (the zero time too), and read from any RFC 3339 time,
// with "" and null as unset.
func TestTime(t *testing.T) {
	at := time.Date(2026, 12, 4, 11, 0, 0, 5e6+7, time.FixedZone("x", 3600))
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{at, `"2026-12-04T10:00:00.005Z"`},
		{time.Time{}, `"0001-01-01T00:00:00.000Z"`},
	} {
		b, err := json.Marshal(wire.Time{Time: tt.in})
		if err != nil || string(b) != tt.want {
			t.Errorf("marshal %v: got %s, %v, want %s", tt.in, b, err, tt.want)
		}
	}
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{`"2026-12-04T10:00:00.005000007Z"`, at},
		{`"2026-12-04T11:00:00.005000007+01:00"`, at},
		{`""`, time.Time{}},
		{`null`, time.Time{}},
	} {
		got := wire.Time{Time: time.Now()}
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || !got.Equal(tt.want) {
			t.Errorf("unmarshal %s: got %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	var bad wire.Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &bad); err == nil {
		t.Errorf("unmarshal \"yesterday\": got no error, want one")
	}
}

// TestEmptyTimes: the status and the dead letter take "" and null times
// as unset, as Okta-shaped servers write either.
func TestEmptyTimes(t *testing.T) {
	var st wire.StreamStatus
	if err := json.Unmarshal([]byte(`{"id":"a","state":"active","delivered":3,"lastErrorAt":"","lastSuccessAt":null}`), &st); err != nil {
		t.Fatal(err)
	}
	if st.ID != "a" || st.State != "active" || st.Delivered != 3 || !st.LastErrorAt.IsZero() || !st.LastSuccessAt.IsZero() {
		t.Errorf("status: got %+v, want id a, active, 3 delivered, zero times", st)
	}
	var dl wire.DeadLetter
	if err := json.Unmarshal([]byte(`{"seq":7,"at":"","event":{"uuid":"u"}}`), &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Seq != 7 || !dl.At.IsZero() || string(dl.Event) != `{"uuid":"u"}` {
		t.Errorf("dead letter: got %+v, want seq 7, zero at, the event", dl)
	}
}

// TestLeaf keeps wire a leaf of the standard library, and the client
// apart from the server: it imports no internal package but wire.
func TestLeaf(t *testing.T) {
	const mod = "github.com/auditstream/auditstream/"
	for pkg, allowed := range map[string][]string{
		"./":        {"internal/wire"},
		"../client": {"internal/wire", "internal/client"},
	} {
		out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, p := range strings.Fields(string(out)) {
			own, ok := strings.CutPrefix(p, mod)
			if ok && !slices.Contains(allowed, own) {
				t.Errorf("%s depends on %s, want only %v", pkg, own, allowed)
			}
		}
	}
}
