package kvstore_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
)

// def embeds Header and Stamps the way log streams and sources do, with a
// member of its own between them.
type def struct {
	kvstore.Header
	Extra string `json:"extra,omitempty"`
	kvstore.Stamps
	Operator bool `json:"operator,omitempty"`
}

// TestDefinitionJSON: the embedded members keep the order and names the
// stored records and the API have always had.
func TestDefinitionJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d := def{Header: kvstore.Header{ID: "0oa1", Type: "http", Name: "n", Status: kvstore.StatusActive, Org: "acme", Settings: json.RawMessage(`{}`)},
		Extra: "x", Stamps: kvstore.Stamps{Created: at, LastUpdated: at, ReadOnly: true}, Operator: true}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0oa1","type":"http","name":"n","status":"ACTIVE","org":"acme","settings":{},"extra":"x",` +
		`"created":"2026-12-04T10:00:00Z","lastUpdated":"2026-12-04T10:00:00Z","readOnly":true,"operator":true}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	if d.EntryKey() != "0oa1" || !d.EntryCreated().Equal(at) || !d.EntryReadOnly() {
		t.Fatalf("got key %q created %v read-only %v, want 0oa1, %v, true", d.EntryKey(), d.EntryCreated(), d.EntryReadOnly(), at)
	}
}

// TestOpenCatalogMarksFixed: the config file's entries are kept read-only
// whatever the caller passed, and cannot be changed through the catalog.
func TestOpenCatalogMarksFixed(t *testing.T) {
	j, err := journal.Open(t.Context(), journal.Options{DataDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	kv, err := j.KV(t.Context(), "kvstore_test")
	if err != nil {
		t.Fatal(err)
	}
	errRO := errors.New("read-only")
	fixed := []def{{Header: kvstore.Header{ID: "f"}}}
	c, err := kvstore.OpenCatalog(t.Context(), kv, "def", fixed, errors.New("not found"), errRO, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, ok := c.Get("f")
	if !ok || !got.ReadOnly {
		t.Fatalf("got %+v (found %v), want a read-only entry", got, ok)
	}
	if fixed[0].ReadOnly {
		t.Fatal("got the caller's slice changed, want it left alone")
	}
	if err := c.Put(t.Context(), def{Header: kvstore.Header{ID: "f"}}); !errors.Is(err, errRO) {
		t.Fatalf("put: got %v, want %v", err, errRO)
	}
}

// TestNewID: ids are the prefix and 17 characters of Okta's alphabet, and
// differ.
func TestNewID(t *testing.T) {
	a, b := kvstore.NewID("0sr"), kvstore.NewID("0sr")
	if len(a) != 20 || !strings.HasPrefix(a, "0sr") || a == b {
		t.Fatalf("got %q and %q, want two different 20-character ids starting 0sr", a, b)
	}
	if strings.Trim(a, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		t.Fatalf("got %q, want letters and digits only", a)
	}
}
