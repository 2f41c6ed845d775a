package source_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/source"
)

// TestDefinitionJSON: a stored source keeps the members, names and order
// it had before its Header and Stamps were shared with log streams.
func TestDefinitionJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d := source.Definition{Header: kvstore.Header{ID: "0sr1", Type: "okta", Name: "n", Status: source.StatusInactive, Org: "acme",
		Settings: json.RawMessage(`{}`)}, Stamps: kvstore.Stamps{Created: at, LastUpdated: at}, Operator: true}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0sr1","type":"okta","name":"n","status":"INACTIVE","org":"acme","settings":{},` +
		`"created":"2026-12-04T10:00:00Z","lastUpdated":"2026-12-04T10:00:00Z","operator":true}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}
