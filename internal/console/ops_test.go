package console

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/wire"
)

// TestPerMinuteAt: a stream's history is placed on the chart's hour by
// its minutes' times, so a status saved a while ago (another node's)
// shows where its minutes were, and older minutes fall off.
func TestPerMinuteAt(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 30, 20, 0, time.UTC)
	hist := func(last time.Time, del ...uint64) *wire.PerMinute {
		return &wire.PerMinute{Last: last, Delivered: del, Failed: make([]uint64, len(del))}
	}
	tests := []struct {
		name string
		p    *wire.PerMinute
		want map[int]uint64
	}{
		{"none", nil, nil},
		{"current", hist(now.Truncate(time.Minute), 1, 2, 3), map[int]uint64{57: 1, 58: 2, 59: 3}},
		{"saved ten minutes ago", hist(now.Truncate(time.Minute).Add(-10*time.Minute), 4, 5), map[int]uint64{48: 4, 49: 5}},
		{"partly older than the hour", hist(now.Truncate(time.Minute).Add(-59*time.Minute), 6, 7), map[int]uint64{0: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			del, _, first := perMinuteAt(tt.p, now)
			if want := now.Truncate(time.Minute).Add(-59 * time.Minute); !first.Equal(want) || len(del) != 60 {
				t.Fatalf("got first %v and %d minutes, want %v and 60", first, len(del), want)
			}
			for i, n := range del {
				if n != tt.want[i] {
					t.Errorf("minute %d: got %d, want %d", i, n, tt.want[i])
				}
			}
		})
	}
	svg := string(deliveryChart(hist(now.Truncate(time.Minute), 2, 3), now))
	if !strings.Contains(svg, `data-delivered="5"`) || strings.Count(svg, `class="ok"`) != 60 {
		t.Errorf("chart: got %s, want 60 minutes and 5 delivered", svg)
	}
}

// TestEditForm: the edit form shows stored settings, a secret only as set
// or not set, and write-once settings read-only; the API's causes land
// next to the setting they name.
func TestEditForm(t *testing.T) {
	typ := sink.NewType[struct {
		URL    string `json:"url"`
		Region string `json:"region"`
		Auth   struct {
			Password secret.String `json:"password"`
			Token    secret.String `json:"token"`
		} `json:"auth"`
		Batch   int  `json:"batch"`
		Gzip    bool `json:"gzip"`
		Headers map[string]string
	}, struct{}, sink.Sink]("test", nil, nil)
	typ.WriteOnce = []string{"region"}
	s := wire.Stream{ID: "0oa1", Type: "test", Settings: json.RawMessage(`{"url":"https://x","region":"eu","batch":10,"gzip":true,"Headers":{"A":"b"}}`),
		SecretsSet: []string{"settings.auth.password"}}
	d := editForm(typ, s)
	got := map[string]editField{}
	for _, f := range d.Fields {
		got[f.Path] = f
	}
	if f := got["url"]; f.Value != "https://x" || f.ReadOnly {
		t.Errorf("url: got %+v", f)
	}
	if f := got["region"]; f.Value != "eu" || !f.ReadOnly {
		t.Errorf("region: got %+v, want read-only eu", f)
	}
	if f := got["auth.password"]; !f.Set || f.Value != "" || f.Kind != "secret" {
		t.Errorf("password: got %+v, want set, no value", f)
	}
	if f := got["auth.token"]; f.Set {
		t.Errorf("token: got set, want not set")
	}
	if f := got["batch"]; f.Value != "10" {
		t.Errorf("batch: got %q, want 10", f.Value)
	}
	if f := got["gzip"]; !f.Checked {
		t.Errorf("gzip: got unchecked")
	}
	if f := got["Headers"]; f.Value != `{"A":"b"}` {
		t.Errorf("Headers: got %q", f.Value)
	}
	d.place([]string{"http sink config: url: scheme \"ftp\": want https", "batch: must be positive", `http sink config: Headers "x": bad`, "settings.auth.password must be sent again because settings.url changed host", "name: too long"})
	for i := range d.Fields {
		got[d.Fields[i].Path] = d.Fields[i]
	}
	if e := got["Headers"].Errors; len(e) != 1 {
		t.Errorf("Headers errors: got %q", e)
	}
	if e := got["batch"].Errors; len(e) != 1 {
		t.Errorf("batch errors: got %q", e)
	}
	if e := got["url"].Errors; len(e) != 1 || !strings.Contains(e[0], "https") {
		t.Errorf("url errors: got %q", e)
	}
	if e := got["auth.password"].Errors; len(e) != 1 {
		t.Errorf("password errors: got %q", e)
	}
	if !slices.Equal(d.Other, []string{"name: too long"}) {
		t.Errorf("other causes: got %q", d.Other)
	}
}

// TestNewRegistersRoutes: the console's routes do not clash (the mux
// panics on patterns that match the same paths).
func TestNewRegistersRoutes(t *testing.T) {
	if _, err := New(config.Console{}, Deps{}); err != nil {
		t.Fatal(err)
	}
}
