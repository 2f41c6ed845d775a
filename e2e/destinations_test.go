package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink/cloudwatch/cwtest"
	"github.com/auditstream/auditstream/internal/sink/datadog/ddtest"
	"github.com/auditstream/auditstream/internal/sink/elasticsearch/estest"
	"github.com/auditstream/auditstream/internal/sink/eventbridge/ebtest"
	"github.com/auditstream/auditstream/internal/sink/splunk/hectest"
	"github.com/auditstream/auditstream/internal/wait"
)

const (
	e2eKeyID     = "AKIDE2ETEST"
	e2eSecretKey = "e2e-secret-access-key-0123456789"
	e2eHECToken  = "8c1f6b1e-2f4a-4d3b-9e5c-7a6b5c4d3e2f"
	e2eDDKey     = "e2e-datadog-api-key-0123456789ab"
	e2eESPass    = "e2e-elastic-password"
)

// destination is one stream type pointed at its in-test fake: settings to
// create the stream with, and how to read back the uuids the fake got.
type destination struct {
	typ      string
	settings map[string]any
	received func() []string
	secrets  []string // values that must never come back from the API
}

func uuidOf(data []byte) string {
	var ev struct {
		UUID string `json:"uuid"`
	}
	_ = json.Unmarshal(data, &ev)
	return ev.UUID
}

func TestDestinationsReceiveExactlyTheEvents(t *testing.T) {
	awsCreds := map[string]any{"accessKeyId": e2eKeyID, "secretAccessKey": e2eSecretKey}
	eb := ebtest.NewServer(t, ebtest.Options{AccessKeyID: e2eKeyID, Region: "us-east-1"})
	okta := ebtest.NewServer(t, ebtest.Options{AccessKeyID: e2eKeyID, Region: "us-east-2"})
	cw := cwtest.NewServer(t, cwtest.Options{AccessKeyID: e2eKeyID, Region: "eu-west-1"})
	hec := hectest.NewServer(t, hectest.Options{Token: e2eHECToken, UseAck: true, AckAfterPolls: 1})
	dd := ddtest.NewServer(t, e2eDDKey)
	es := estest.NewServer(t, estest.Options{Authorization: basicAuth("elastic", e2eESPass)})

	ebIDs := func(srv *ebtest.Server) func() []string {
		return func() []string {
			var ids []string
			for _, e := range srv.Entries() {
				ids = append(ids, uuidOf([]byte(e.Detail)))
			}
			return ids
		}
	}
	dests := []destination{
		{
			typ: "eventbridge",
			settings: map[string]any{"region": "us-east-1", "endpoint": eb.URL(), "eventBusName": "audit",
				"credentials": awsCreds},
			received: ebIDs(eb),
			secrets:  []string{e2eSecretKey},
		},
		{
			// Okta's type and settings, plus the endpoint extension.
			typ: "aws_eventbridge",
			settings: map[string]any{"accountId": "123456789012", "eventSourceName": "e2e-okta", "region": "us-east-2",
				"endpoint": okta.URL(), "credentials": awsCreds},
			received: ebIDs(okta),
			secrets:  []string{e2eSecretKey},
		},
		{
			typ: "cloudwatch_logs",
			settings: map[string]any{"logGroupName": "/audit/e2e", "logStreamName": "okta-{org}", "region": "eu-west-1",
				"endpoint": cw.URL(), "credentials": awsCreds},
			received: func() []string {
				var ids []string
				for _, name := range cw.Streams("/audit/e2e") {
					for _, e := range cw.Events("/audit/e2e", name) {
						ids = append(ids, uuidOf([]byte(e.Message)))
					}
				}
				return ids
			},
			secrets: []string{e2eSecretKey},
		},
		{
			// Indexer acknowledgement on: delivery counts only once acked.
			typ:      "splunk_hec",
			settings: map[string]any{"url": hec.URL(), "token": e2eHECToken, "ack": true, "ackPollInterval": "100ms"},
			received: func() []string {
				var ids []string
				for _, e := range hec.Events() {
					ids = append(ids, uuidOf(e.Event))
				}
				return ids
			},
			secrets: []string{e2eHECToken},
		},
		{
			typ:      "datadog",
			settings: map[string]any{"url": dd.URL(), "apiKey": e2eDDKey, "tags": []string{"env:e2e"}},
			received: func() []string {
				var ids []string
				for _, it := range dd.Items() {
					id, _ := it["uuid"].(string)
					ids = append(ids, id)
				}
				return ids
			},
			secrets: []string{e2eDDKey},
		},
		{
			typ: "elasticsearch",
			settings: map[string]any{"urls": []string{es.URL()}, "index": "audit-e2e",
				"auth": map[string]any{"type": "basic", "username": "elastic", "password": e2eESPass}},
			received: func() []string {
				var ids []string
				for _, d := range es.Docs() {
					ids = append(ids, d.ID)
				}
				return ids
			},
			secrets: []string{e2eESPass},
		},
	}

	s := startServer(t, "")
	ids := map[string]string{}
	for _, d := range dests {
		var out streamObj
		// The filter keeps the service's own lifecycle events (creating
		// the next stream is one) out of the comparison.
		s.mustJSON("POST", "/api/v1/logStreams", map[string]any{"type": d.typ, "name": "e2e " + d.typ,
			"settings": d.settings, "filter": map[string]any{"detail": map[string]any{"eventType": []string{"user.session.start"}}}}, 200, &out)
		if out.ID == "" || out.Status != "ACTIVE" {
			t.Fatalf("create %s stream: got %+v, want an id and ACTIVE", d.typ, out)
		}
		ids[d.typ] = out.ID
		// Secrets are write-only: neither the create answer nor a read
		// shows them.
		code, body, _ := s.do("GET", "/api/v1/logStreams/"+out.ID, adminToken, "", nil)
		for _, secret := range d.secrets {
			if code != 200 || strings.Contains(string(body), secret) {
				t.Errorf("GET %s stream: got %d %s, want 200 without the secret", d.typ, code, body)
			}
		}
	}

	lines, want := events("dest", 120, constType("user.session.start"))
	for i := 0; i < len(lines); i += 40 {
		if code, body := s.ingest(lines[i : i+40]); code != 202 {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
	}
	slices.Sort(want)
	for _, d := range dests {
		t.Run(d.typ, func(t *testing.T) {
			wait.Eventually(t, fmt.Sprintf("%d events at the %s fake", len(want), d.typ), func() bool {
				return len(d.received()) >= len(want)
			}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
			got := d.received()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("received uuids: got %d %v, want exactly the %d ingested", len(got), got, len(want))
			}
			wait.Eventually(t, "status to count the deliveries", func() bool {
				st := s.status(ids[d.typ])
				return st.Delivered == uint64(len(want)) && st.DeadLettered == 0
			}, wait.Every(50*time.Millisecond))
		})
	}
	if polls := hec.Polls(); polls == 0 {
		t.Errorf("splunk ack polls: got 0, want the sink to wait for acknowledgement")
	}
}

func TestDestinationOktaSettingsValidation(t *testing.T) {
	s := startServer(t, "")
	for _, tc := range []struct {
		typ      string
		settings map[string]any
		want     []string
	}{
		{"aws_eventbridge", map[string]any{"accountId": "12345", "eventSourceName": "bad name!", "region": "us-east-1"},
			[]string{"Account number must be 12 digits.",
				`Event source name can use numbers, letters, the symbols \".\", \"-\" or \"_\". It must use fewer than 76 characters.`}},
		{"splunk_cloud_logstreaming", map[string]any{"edition": "aws", "host": "https://acme.splunkcloud.com",
			"token": "0b7a9c3e-3f1d-4c55-9a8e-1f2d3c4b5a69"},
			[]string{"Host should be a domain without http or https."}},
		{"splunk_cloud_logstreaming", map[string]any{"edition": "azure", "host": "acme.example.com", "token": "nope"},
			[]string{"edition:", "Host should be a domain without http or https.", "token:"}},
		{"cloudwatch_logs", map[string]any{"region": "us-east-1", "logGroupName": "aws/reserved"},
			[]string{"must not start with aws/"}},
		{"elasticsearch", map[string]any{"urls": []string{"http://127.0.0.1:9"}, "index": "Audit"},
			[]string{"must be lowercase"}},
		{"datadog", map[string]any{"site": "datadoghq.org"}, []string{"apiKey: required", "site"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"type": tc.typ, "name": "bad " + tc.typ, "settings": tc.settings})
			code, out, _ := s.do("POST", "/api/v1/logStreams", adminToken, "application/json", body)
			if code != 400 || !strings.Contains(string(out), "E0000001") {
				t.Fatalf("create: got %d %s, want 400 E0000001", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("error body: got %s, want it to contain %s", out, w)
				}
			}
		})
	}
}

func basicAuth(user, pass string) string {
	return "Basic " + base64Encode(user+":"+pass)
}

func base64Encode(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
