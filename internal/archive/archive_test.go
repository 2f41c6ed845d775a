package archive

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
)

// oktaRecords are the repository's sample Okta LogEvents as the journal
// would hand them out (with positions).
func oktaRecords(t *testing.T) []event.Record {
	t.Helper()
	recs := eventtest.OktaSamples(t, "acme")
	for i := range recs {
		recs[i].Seq = uint64(i + 1)
	}
	return recs
}

func TestCodecRoundTrip(t *testing.T) {
	recs := oktaRecords(t)
	for _, f := range []Format{NDJSON, Parquet, CSV} {
		for _, c := range []Compression{Gzip, Zstd, None} {
			t.Run(string(f)+"-"+string(c), func(t *testing.T) {
				var cols []string
				if f == CSV {
					cols = []string{"EVENT_ID", "event"}
				}
				codec, err := NewCodec(f, c, cols)
				if err != nil {
					t.Fatal(err)
				}
				body, err := codec.Encode(recs)
				if err != nil {
					t.Fatal(err)
				}
				again, _ := codec.Encode(recs)
				if !bytes.Equal(body, again) {
					t.Error("encoding twice: got different bytes, want the same (retries must write the same object)")
				}
				got, err := Decode("x/y"+codec.Ext(), body)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(recs) {
					t.Fatalf("events: got %d, want %d", len(got), len(recs))
				}
				for i := range recs {
					if !bytes.Equal(got[i].Data, recs[i].Data) {
						t.Fatalf("event %d: got %s, want %s", i, got[i].Data, recs[i].Data)
					}
				}
			})
		}
	}
}

func TestExportColumns(t *testing.T) {
	recs := oktaRecords(t)
	codec, err := NewCodec(CSV, None, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.Encode(recs[:1])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, h := range rows[0] {
		got[h] = rows[1][i]
	}
	want := map[string]string{
		"ORGANIZATION_ID": "acme", "EVENT_ID": "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a", "EVENT_YEAR": "2024",
		"EVENT_MONTH": "2024-08-01", "EVENT_DATE": "2024-08-13", "EVENT_TIME": "2024-08-13 15:58:20.353",
		"USER_ID": "00uttidj01jqL21aM1d6", "EMAIL": "john.doe@example.com", "APP_ID": "0oatxlef9sQvvqInq5d6",
		"RESOURCE_TYPE": "AuthenticatorEnrollment", "RESOURCE_ID": "pfdfdhyjf0HMbkP2e1d7", "SERVICE": "okta",
		"SERVICE_REVISION": "0", "LOGIN_TYPE": "CHROME", "EVENT_TYPE": "user.session.start", "ROOT_SCOPE_USER_ID": "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(rows[0]) != len(ExportColumns) {
		t.Errorf("columns: got %d, want %d", len(rows[0]), len(ExportColumns))
	}
	// Without the event column, import rebuilds what the columns hold.
	dec, err := Decode("a.csv", body)
	if err != nil || len(dec) != 1 {
		t.Fatalf("decode: got %d, %v", len(dec), err)
	}
	ev, err := event.Parse(dec[0].Data, dec[0].Org, time.Now())
	if err != nil || ev.UUID != recs[0].UUID || !ev.Published.Equal(recs[0].Published) || ev.EventType != "user.session.start" || dec[0].Org != "acme" {
		t.Errorf("rebuilt event: got %+v (%v) from %s", ev, err, dec[0].Data)
	}
}

func TestLayout(t *testing.T) {
	pub := time.Date(2024, 8, 3, 7, 59, 0, 0, time.FixedZone("x", 3600)) // 06:59 UTC
	for _, tc := range []struct {
		prefix, template, want string
	}{
		{"", "", "year=2024/month=08/day=03/hour=06/"},
		{"audit", "", "audit/year=2024/month=08/day=03/hour=06/"},
		{"a/b/", "org={org}/dt={yyyy}-{MM}-{dd}", "a/b/org=acme/dt=2024-08-03/"},
	} {
		l, err := NewLayout(tc.prefix, tc.template)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Dir("acme", pub); got != tc.want {
			t.Errorf("dir(%q, %q): got %q, want %q", tc.prefix, tc.template, got, tc.want)
		}
	}
	recs := []event.Record{{UUID: "a", Seq: 7}, {UUID: "b", Seq: 42}}
	name := ObjectName(recs, ".jsonl.gz")
	first, last, tag, ok := ObjectRange("p/" + name)
	if !ok || first != 7 || last != 42 || tag != Tag(recs) {
		t.Errorf("range of %s: got %d %d %s %v", name, first, last, tag, ok)
	}
	from, to, ok := PartitionSpan("p/year=2024/month=08/day=03/hour=06/" + name)
	if !ok || !from.Equal(time.Date(2024, 8, 3, 6, 0, 0, 0, time.UTC)) || to.Sub(from) != time.Hour {
		t.Errorf("partition span: got %v %v %v", from, to, ok)
	}
	if _, err := NewLayout("/abs", "{nope}/"); err == nil {
		t.Error("bad layout: got nil, want errors")
	}
}

// TestRebuildFromExportColumns pins where import puts each export column
// of an object written without the event column.
func TestRebuildFromExportColumns(t *testing.T) {
	header := []string{"ORGANIZATION_ID", "EVENT_ID", "EVENT_TIME", "EVENT_TYPE", "USER_ID", "EMAIL",
		"SERVICE_REVISION", "RESOURCE_TYPE", "RESOURCE_ID", "APP_ID", "LOGIN_TYPE", "EVENT_YEAR", "client.zone"}
	row := []string{"acme", "u-1", "2024-08-13 15:58:20.353", "user.session.start", "00u1", "jane@example.com",
		"0", "User", "00u2", "0oa1", "", "2024", "OFF"}
	d, err := rebuild(header, row)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(d.Data, &got); err != nil {
		t.Fatalf("rebuilt %s: %v", d.Data, err)
	}
	want := map[string]any{
		"uuid": "u-1", "published": "2024-08-13T15:58:20.353Z", "eventType": "user.session.start", "version": "0",
		"actor":  map[string]any{"id": "00u1", "alternateId": "jane@example.com"},
		"target": []any{map[string]any{"type": "User", "id": "00u2"}},
		"appId":  "0oa1",
		"client": map[string]any{"zone": "OFF"},
	}
	if !reflect.DeepEqual(got, any(want)) {
		t.Errorf("got %s, want %v", d.Data, want)
	}
	if d.Org != "acme" {
		t.Errorf("org: got %q, want acme", d.Org)
	}
}

func TestCodecNames(t *testing.T) {
	tests := []struct {
		f        Format
		c        Compression
		ext, typ string
	}{
		{NDJSON, Gzip, ".jsonl.gz", "application/x-ndjson"},
		{NDJSON, Zstd, ".jsonl.zst", "application/x-ndjson"},
		{NDJSON, None, ".jsonl", "application/x-ndjson"},
		{CSV, Gzip, ".csv.gz", "text/csv"},
		{CSV, None, ".csv", "text/csv"},
		{Parquet, Gzip, ".parquet", "application/vnd.apache.parquet"},
		{Parquet, None, ".parquet", "application/vnd.apache.parquet"},
	}
	for _, tt := range tests {
		t.Run(string(tt.f)+"-"+string(tt.c), func(t *testing.T) {
			codec, err := NewCodec(tt.f, tt.c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := codec.Ext(); got != tt.ext {
				t.Errorf("Ext: got %q, want %q", got, tt.ext)
			}
			if got := codec.ContentType(); got != tt.typ {
				t.Errorf("ContentType: got %q, want %q", got, tt.typ)
			}
		})
	}
}
