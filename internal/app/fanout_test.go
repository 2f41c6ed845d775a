package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// The query index, the activity fold and the detection runtime (all on by
// default) read the journal through one shared reader per partition, which
// takes what this process's writer stored from the writer: once they have
// caught up, no partition's stream has a follower's consumer (no log
// stream is defined; consumers of other readers, such as a Scan's, are
// not counted; before the shared reader there was one per follower, with
// it and before it took the writer's batches one per partition); and what
// they read is there (the index answers the events, the fold counts
// them).
var orderedName = regexp.MustCompile(`_[0-9]+$`)

func TestFollowersShareOneReader(t *testing.T) {
	const parts = 2
	ns := journaltest.StartNATS(t, nil)
	cfg := testConfig("")
	cfg.Journal.NatsURL = ns.ClientURL()
	cfg.Journal.Partitions = parts
	r := startApp(t, cfg)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() map[string][]string {
		out := map[string][]string{}
		for info := range js.ListStreams(t.Context()).Info() {
			name := info.Config.Name
			if !slices.ContainsFunc(info.Config.Subjects, func(s string) bool { return strings.HasPrefix(s, "audit_p") }) {
				continue // not a partition of the events
			}
			st, err := js.Stream(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = []string{}
			for c := range st.ListConsumers(t.Context()).Info() {
				// Ordered consumers (nats.go names them <prefix>_<n>:
				// a Scan's, such as the detection runtime's look for
				// detections journaled after its checkpoint) are not
				// followers.
				if orderedName.MatchString(c.Name) {
					continue
				}
				out[name] = append(out[name], fmt.Sprintf("%s(filter %v, start %d, ack %v, pending %d)", c.Name, c.Config.FilterSubjects, c.Config.OptStartSeq, c.Config.AckPolicy, c.NumPending))
			}
		}
		return out
	}
	for p := range parts {
		org := ""
		for i := 0; org == ""; i++ {
			if o := fmt.Sprintf("org%d", i); journal.PartitionOfOrg(o, parts) == p {
				org = o
			}
		}
		tok := r.token(org, "events.write", "activity.read")
		evs := []any{}
		for i := range 50 {
			evs = append(evs, map[string]any{"uuid": fmt.Sprintf("f-%d", i), "eventType": "user.session.start",
				"actor": map[string]any{"id": "00uZED", "type": "User", "alternateId": "zed@example.com"}})
		}
		if code, body := r.call("POST", "/api/v1/events", tok, evs); code != http.StatusAccepted {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
		wait.Eventually(t, "the activity fold to count the events", func() bool {
			code, body := r.call("GET", "/api/v1/activity/users/00uZED", tok, nil)
			var p struct{ AsActor int64 }
			_ = json.Unmarshal([]byte(body), &p)
			return code == http.StatusOK && p.AsActor == 50
		}, wait.Within(30*time.Second))
	}
	wait.Eventually(t, "no follower's consumer on any partition", func() bool {
		for _, cs := range consumers() {
			if len(cs) != 0 {
				return false
			}
		}
		return len(consumers()) == parts
	}, wait.Within(30*time.Second), wait.Seen(func() string { return fmt.Sprint(consumers()) }))
}
