// Package notifytest holds what the notification destinations' tests
// share: detection events in the engine's shape, a reader of the ids a
// message names, their conformance run (per event and per digest) and a
// scripted incoming webhook (Webhook).
package notifytest

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
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

// Harness is what a notification destination's conformance run needs
// beyond what they all share.
type Harness struct {
	// Digest is the digest period of the second run (the first posts per
	// event).
	Digest time.Duration
	// Fake is how the destination's fake decodes requests and answers.
	Fake sinktest.HTTPFakeOptions
	// Open returns the destination's sink posting to the fake at url.
	Open func(url string, digest time.Duration) (sink.Sink, error)
	// Equal compares a sent event with a request's data; DigestEqual,
	// when set, replaces it for the digest run.
	Equal, DigestEqual func(sent, received []byte) bool
	// Unsupported are the scenarios the destination cannot have, with
	// the reason.
	Unsupported map[sinktest.Scenario]string
}

// Conformance runs sinktest's battery against a notification destination
// twice: posting a message per event, and a digest per h.Digest (at most
// notify.MaxDigestItems events a request). Each sink is closed when its
// test ends.
func Conformance(t *testing.T, h Harness) {
	for _, digest := range []time.Duration{0, h.Digest} {
		t.Run(fmt.Sprintf("digest=%v", digest), func(t *testing.T) {
			run := sinktest.Harness{
				New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
					fake := sinktest.NewHTTPFake(t, h.Fake)
					s, err := h.Open(fake.URL(), digest)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close(t.Context()) })
					return s, fake
				},
				DataEqual:        h.Equal,
				MaxRequestEvents: 1,
				Unsupported:      h.Unsupported,
			}
			if digest > 0 {
				run.MaxRequestEvents = notify.MaxDigestItems
				if h.DigestEqual != nil {
					run.DataEqual = h.DigestEqual
				}
			}
			sinktest.Run(t, run)
		})
	}
}
