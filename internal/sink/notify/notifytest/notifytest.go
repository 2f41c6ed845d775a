// Package notifytest holds what the notification destinations' tests
// share: detection events in the engine's shape and a reader of the ids a
// message names.
package notifytest

import (
	"embed"
	"encoding/json"
	"regexp"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

//go:embed testdata/*.json
var files embed.FS

// Detection returns the detection event of testdata/<name>.json as the
// journal hands it to a sink (source auditstream.detect, org "example").
func Detection(name string) event.Record {
	data, err := files.ReadFile("testdata/" + name + ".json")
	if err != nil {
		panic(err)
	}
	var head struct {
		UUID      string `json:"uuid"`
		EventType string `json:"eventType"`
		Published string `json:"published"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		panic(err)
	}
	at, _ := time.Parse(time.RFC3339Nano, head.Published)
	return event.Record{UUID: head.UUID, Org: "example", EventType: head.EventType, Published: at,
		Source: "auditstream.detect", Data: data}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// IDs returns the uuids s names, each once, in the order they first
// appear.
func IDs(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range uuidRE.FindAllString(s, -1) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
