package stream_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/stream"
)

// TestDefinitionJSON: a stored log stream keeps the members, names and
// order it had before its Header and Stamps were shared with sources.
func TestDefinitionJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d := stream.Definition{Header: kvstore.Header{ID: "0oa1", Type: "http", Name: "n", Status: stream.StatusActive, Org: "acme",
		Settings: json.RawMessage(`{"url":"u"}`)}, Filter: json.RawMessage(`{"a":["b"]}`),
		Stamps: kvstore.Stamps{Created: at, LastUpdated: at, ReadOnly: true}, Epoch: 2, StartSeq: 7, StartTime: at, Resume: 1, Operator: true}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0oa1","type":"http","name":"n","status":"ACTIVE","org":"acme","settings":{"url":"u"},"filter":{"a":["b"]},` +
		`"created":"2026-12-04T10:00:00Z","lastUpdated":"2026-12-04T10:00:00Z","readOnly":true,"epoch":2,"startSeq":7,` +
		`"startTime":"2026-12-04T10:00:00Z","resume":1,"operator":true}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	var back stream.Definition
	if err := json.Unmarshal(b, &back); err != nil || back.ID != "0oa1" || !back.ReadOnly || back.Epoch != 2 || !back.Created.Equal(at) {
		t.Fatalf("got %+v (%v), want the definition back", back, err)
	}
}
