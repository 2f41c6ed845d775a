package archive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
)

var day = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// rec is an event published at pub, as a event.Record of org.
func rec(uuid, org string, pub time.Time) event.Record {
	data := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"user.session.start"}`, uuid, pub.Format(event.TimeFormat))
	return event.Record{UUID: uuid, Org: org, Published: pub, Data: []byte(data)}
}

// put encodes recs with format and compression and stores them at key
// (the codec's extension appended).
func put(t *testing.T, c *s3api.Client, key string, f archive.Format, comp archive.Compression, recs []event.Record) {
	t.Helper()
	var cols []string
	if f == archive.CSV {
		cols = []string{"ORGANIZATION_ID", "event"}
	}
	codec, err := archive.NewCodec(f, comp, cols)
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.Encode(recs)
	if err != nil {
		t.Fatal(err)
	}
	putRaw(t, c, key+codec.Ext(), body)
}

func putRaw(t *testing.T, c *s3api.Client, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(t.Context(), &s3api.PutObjectInput{Bucket: aws.String("arch"), Key: aws.String(key),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// orgs lists the journal's events as uuid → org.
func orgs(t *testing.T, j *journal.Journal) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range journaltest.Records(t, j) {
		out[r.UUID] = r.Org
	}
	return out
}

// TestImport imports an archive of every format from a real S3 server
// (versitygw) into a real journal: partitions outside the span are not
// read, the org comes from the object, its key or the option, duplicates
// and events outside the span are counted, verify objects and folders are
// skipped, and a second run stores nothing new.
func TestImport(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket("arch")
	c := srv.Client()
	h := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }

	// In the span [day, day+1d).
	put(t, c, "audit/org=acme/year=2026/month=03/day=01/hour=10/a", archive.NDJSON, archive.Gzip,
		[]event.Record{rec("n-1", "acme", h(10)), rec("n-2", "acme", h(10)), rec("dup", "acme", h(10))})
	put(t, c, "audit/year=2026/month=03/day=01/hour=11/b", archive.CSV, archive.Zstd,
		[]event.Record{rec("c-1", "beta", h(11)), rec("dup", "beta", h(11))})
	put(t, c, "audit/year=2026/month=03/day=01/hour=12/c", archive.Parquet, archive.None,
		[]event.Record{rec("p-1", "gamma", h(12))})
	// A custom layout: no partition to prune by, no org in the key; one
	// event before the span, one at its end (excluded), one invalid.
	custom := []byte(string(rec("x-1", "", h(13)).Data) + "\n" + string(rec("early", "", h(-1)).Data) + "\n" +
		string(rec("late", "", h(24)).Data) + "\n" + `{"uuid":"bad-1","published":"2026-03-01T00:00:00Z"}` + "\n")
	putRaw(t, c, "audit/custom/d.jsonl", custom)
	// Pruned by their partition, so never read (one would not decode).
	put(t, c, "audit/year=2026/month=02/day=28/hour=23/e", archive.NDJSON, archive.None, []event.Record{rec("old", "acme", h(-1))})
	putRaw(t, c, "audit/year=2026/month=03/day=02/f.jsonl.gz", []byte("not gzip at all"))
	// Skipped: the verify object, a folder marker, a digest (hidden
	// "_" directory) and keys outside the prefix.
	putRaw(t, c, "audit/"+archive.VerifyPrefix+"1700000000", []byte("ok"))
	putRaw(t, c, "audit/_digest/2026/03/01/0ls1_20260301T000000.000Z.json", []byte(`{"payload":{"version":1},"keyId":"k","signature":"AA=="}`))
	putRaw(t, c, "audit/folder/", nil)
	putRaw(t, c, "auditx/g.jsonl", []byte(rec("outside", "", h(1)).Data))

	// More events than one Append takes.
	var many []event.Record
	for i := range 1001 {
		many = append(many, rec(fmt.Sprintf("m-%04d", i), "acme", h(20)))
	}
	put(t, c, "audit/org=acme/year=2026/month=03/day=01/hour=20/m", archive.NDJSON, archive.Zstd, many)

	j := journaltest.Open(t)
	opts := archive.ImportOptions{Bucket: "arch", Prefix: "audit", Since: day, Until: day.AddDate(0, 0, 1), Org: "fallback"}
	res, err := archive.Import(t.Context(), c, j, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := archive.ImportResult{Objects: 5, Pruned: 2, Stored: 6 + 1001, Duplicates: 1, OutOfRange: 2, Invalid: 1}
	if res != want {
		t.Errorf("got %+v, want %+v", res, want)
	}
	got := orgs(t, j)
	for uuid, org := range map[string]string{"n-1": "acme", "n-2": "acme", "dup": "acme", "c-1": "beta", "p-1": "gamma",
		"x-1": "fallback", "m-0000": "acme", "m-1000": "acme"} {
		if got[uuid] != org {
			t.Errorf("%s: got org %q, want %q", uuid, got[uuid], org)
		}
	}
	for _, uuid := range []string{"early", "late", "old", "outside", "bad-1"} {
		if _, ok := got[uuid]; ok {
			t.Errorf("%s: got it imported, want it left out", uuid)
		}
	}
	if len(got) != 6+1001 {
		t.Errorf("got %d events in the journal, want %d", len(got), 6+1001)
	}

	// Again: the journal's de-duplication window knows every event.
	again, err := archive.Import(t.Context(), c, j, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Stored != 0 || again.Duplicates != 1+6+1001 {
		t.Errorf("second import: got %+v, want nothing stored and %d duplicates", again, 1+6+1001)
	}
}

// failing is an Appender that refuses every batch.
type failing struct{ calls int }

func (f *failing) Append(context.Context, []event.Record) (journal.Result, error) {
	f.calls++
	return journal.Result{}, errors.New("journal down")
}

func TestImportErrors(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket("arch")
	c := srv.Client()
	put(t, c, "ok/year=2026/month=03/day=01/hour=00/a", archive.NDJSON, archive.Gzip, []event.Record{rec("a-1", "acme", day)})
	putRaw(t, c, "corrupt/a.jsonl.gz", []byte{0x1f, 0x8b, 0, 0})

	tests := []struct {
		name string
		opts archive.ImportOptions
		app  archive.Appender
		want string
	}{
		{name: "no bucket", opts: archive.ImportOptions{Bucket: "missing"}, app: &failing{}, want: "list s3://missing/"},
		{name: "corrupt object", opts: archive.ImportOptions{Bucket: "arch", Prefix: "corrupt/"}, app: &failing{},
			want: "decompress corrupt/a.jsonl.gz"},
		{name: "journal refuses", opts: archive.ImportOptions{Bucket: "arch", Prefix: "ok"}, app: &failing{},
			want: "append to journal: journal down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := archive.Import(t.Context(), c, tt.app, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, bucket, prefix, err string
	}{
		{url: "s3://b/p/q/", bucket: "b", prefix: "p/q/"},
		{url: "s3://b", bucket: "b"},
		{url: "s3://b/", bucket: "b"},
		{url: "s3:///p", err: "no bucket"},
		{url: "https://b/p", err: "want s3://bucket/prefix"},
		{url: "", err: "want s3://bucket/prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			b, p, err := archive.ParseURL(tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("got %q %q %v, want an error with %q", b, p, err, tt.err)
				}
				return
			}
			if err != nil || b != tt.bucket || p != tt.prefix {
				t.Errorf("got %q %q %v, want %q %q", b, p, err, tt.bucket, tt.prefix)
			}
		})
	}
}
