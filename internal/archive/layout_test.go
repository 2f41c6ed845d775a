package archive

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

func TestNewLayout(t *testing.T) {
	tests := []struct {
		name             string
		prefix, template string
		wantPrefix       string
		wantTemplate     string
		wantErr          []string // substrings of the joined error; nil: valid
	}{
		{name: "defaults", wantTemplate: DefaultTemplate},
		{name: "prefix gets a slash", prefix: "audit", wantPrefix: "audit/", wantTemplate: DefaultTemplate},
		{name: "prefix keeps its slash", prefix: "a/b/", wantPrefix: "a/b/", wantTemplate: DefaultTemplate},
		{name: "template gets a slash", template: "org={org}/{yyyy}", wantTemplate: "org={org}/{yyyy}/"},
		{name: "every placeholder", template: "{org}/{yyyy}/{MM}/{dd}/{HH}/", wantTemplate: "{org}/{yyyy}/{MM}/{dd}/{HH}/"},
		{name: "no placeholder", template: "flat/", wantTemplate: "flat/"},
		{name: "absolute prefix", prefix: "/abs", wantErr: []string{`prefix "/abs/": must not start with /`}},
		{name: "absolute template", template: "/x/", wantErr: []string{"no leading / and no empty path segment"}},
		{name: "empty segment", template: "a//b/", wantErr: []string{"no leading / and no empty path segment"}},
		{name: "unknown placeholder", template: "{nope}/{yy}/", wantErr: []string{
			"unknown placeholder {nope}", "unknown placeholder {yy}"}},
		{name: "stray brace", template: "a{/", wantErr: []string{"stray brace or backslash"}},
		{name: "stray closing brace", template: "a}/", wantErr: []string{"stray brace or backslash"}},
		{name: "backslash", template: `a\b/`, wantErr: []string{"stray brace or backslash"}},
		{name: "too long", prefix: strings.Repeat("p", 700), template: strings.Repeat("t", 200),
			wantErr: []string{"want at most 824 (S3 keys are at most 1024 bytes)"}},
		{name: "every problem at once", prefix: "/p", template: "/{x}", wantErr: []string{
			"must not start with /", "no leading /", "unknown placeholder {x}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLayout(tt.prefix, tt.template)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if l.Prefix != tt.wantPrefix || l.Template != tt.wantTemplate {
					t.Errorf("got prefix %q template %q, want %q %q", l.Prefix, l.Template, tt.wantPrefix, tt.wantTemplate)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLayoutDir(t *testing.T) {
	tests := []struct {
		name, prefix, template string
		org                    string
		published              time.Time
		want                   string
	}{
		{name: "default in UTC", published: time.Date(2024, 8, 3, 7, 59, 0, 0, time.FixedZone("x", 3600)),
			want: "year=2024/month=08/day=03/hour=06/"},
		{name: "across midnight and the year", published: time.Date(2025, 1, 1, 0, 30, 0, 0, time.FixedZone("y", 3600)),
			want: "year=2024/month=12/day=31/hour=23/"},
		{name: "west of UTC", published: time.Date(2024, 2, 28, 22, 0, 0, 0, time.FixedZone("z", -5*3600)),
			want: "year=2024/month=02/day=29/hour=03/"},
		{name: "small year padded", published: time.Date(987, 3, 4, 5, 0, 0, 0, time.UTC),
			want: "year=0987/month=03/day=04/hour=05/"},
		{name: "org and prefix", prefix: "logs", template: "org={org}/{yyyy}{MM}{dd}/", org: "acme",
			published: time.Date(2024, 8, 3, 7, 0, 0, 0, time.UTC), want: "logs/org=acme/20240803/"},
		{name: "org twice", template: "{org}/x/{org}/", org: "o",
			published: time.Date(2024, 8, 3, 7, 0, 0, 0, time.UTC), want: "o/x/o/"},
		{name: "no placeholder", prefix: "p/", template: "flat/", org: "o",
			published: time.Date(2024, 8, 3, 7, 0, 0, 0, time.UTC), want: "p/flat/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLayout(tt.prefix, tt.template)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Dir(tt.org, tt.published); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLayoutSplit(t *testing.T) {
	l, err := NewLayout("p", "org={org}/{yyyy}-{MM}-{dd}/")
	if err != nil {
		t.Fatal(err)
	}
	d1 := time.Date(2024, 8, 3, 10, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	recs := []event.Record{
		{UUID: "1", Seq: 1, Org: "acme", Published: d2},
		{UUID: "2", Seq: 2, Org: "acme", Published: d1},
		{UUID: "3", Seq: 3, Org: "other", Published: d1},
		{UUID: "4", Seq: 4, Org: "acme", Published: d2.Add(time.Hour)},
		{UUID: "5", Seq: 5, Org: "acme", Published: d1.Add(-time.Hour)},
	}
	groups := l.Split(recs)
	type g struct {
		dir string
		ids string
	}
	want := []g{
		{"p/org=acme/2024-08-04/", "1,4"},
		{"p/org=acme/2024-08-03/", "2,5"},
		{"p/org=other/2024-08-03/", "3"},
	}
	if len(groups) != len(want) {
		t.Fatalf("got %d groups, want %d", len(groups), len(want))
	}
	for i, w := range want {
		var ids []string
		for _, r := range groups[i].Records {
			ids = append(ids, r.UUID)
		}
		if got := (g{groups[i].Dir, strings.Join(ids, ",")}); got != w {
			t.Errorf("group %d: got %+v, want %+v", i, got, w)
		}
	}
	if got := l.Split(nil); len(got) != 0 {
		t.Errorf("split of nothing: got %v, want no groups", got)
	}
}

func TestObjectNameAndRange(t *testing.T) {
	a := []event.Record{{UUID: "a", Seq: 7}, {UUID: "b", Seq: 42}}
	name := ObjectName(a, ".jsonl.gz")
	if want := "00000000000000000007-00000000000000000042-" + Tag(a) + ".jsonl.gz"; name != want {
		t.Fatalf("got %q, want %q", name, want)
	}
	// The tag depends on the ids and the sequences, and only on them.
	tags := map[string]string{
		"same":        Tag([]event.Record{{UUID: "a", Seq: 7, Org: "x"}, {UUID: "b", Seq: 42, Data: []byte("{}")}}),
		"other id":    Tag([]event.Record{{UUID: "a", Seq: 7}, {UUID: "c", Seq: 42}}),
		"other seq":   Tag([]event.Record{{UUID: "a", Seq: 7}, {UUID: "b", Seq: 43}}),
		"other order": Tag([]event.Record{{UUID: "b", Seq: 42}, {UUID: "a", Seq: 7}}),
		"subset":      Tag(a[:1]),
	}
	if tags["same"] != Tag(a) {
		t.Errorf("tag of the same ids and sequences: got %s, want %s", tags["same"], Tag(a))
	}
	for k, v := range tags {
		if len(v) != 8 {
			t.Errorf("%s: got tag %q, want 8 hex digits", k, v)
		}
		if k != "same" && v == Tag(a) {
			t.Errorf("%s: got the tag %s of other records, want a different one", k, v)
		}
	}

	tests := []struct {
		key         string
		first, last uint64
		tag         string
		ok          bool
	}{
		{key: "p/year=2024/" + name, first: 7, last: 42, tag: Tag(a), ok: true},
		{key: name, first: 7, last: 42, tag: Tag(a), ok: true},
		{key: ObjectName([]event.Record{{UUID: "x", Seq: 18446744073709551615}}, ".parquet"), first: 18446744073709551615,
			last: 18446744073709551615, tag: Tag([]event.Record{{UUID: "x", Seq: 18446744073709551615}}), ok: true},
		{key: "p/event-abc.jsonl"},
		{key: "p/00000000000000000042-00000000000000000007-abcdef01.jsonl"}, // first after last
		{key: "p/0000000000000000000x-00000000000000000007-abcdef01.jsonl"},
		{key: "p/00000000000000000001_00000000000000000007-abcdef01.jsonl"},
		{key: "p/00000000000000000001-00000000000000000007-abc"},
		{key: "00000000000000000001-00000000000000000007-abcdef01/"}, // a directory
		{key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			first, last, tag, ok := ObjectRange(tt.key)
			if first != tt.first || last != tt.last || tag != tt.tag || ok != tt.ok {
				t.Errorf("got %d %d %q %v, want %d %d %q %v", first, last, tag, ok, tt.first, tt.last, tt.tag, tt.ok)
			}
		})
	}
}

func TestEventName(t *testing.T) {
	tests := []struct{ uuid, ext, want string }{
		{"dc9fd3c0-598c-11ef-8478-2b7584bf8d5a", ".json", "event-dc9fd3c0-598c-11ef-8478-2b7584bf8d5a.json"},
		{"A_b.c-9", ".json.gz", "event-A_b.c-9.json.gz"},
		{"../../etc/passwd", ".json", "event-.._.._etc_passwd.json"},
		{"a b/c?d#e", "", "event-a_b_c_d_e"},
		{"ü", ".json", "event-_.json"},
	}
	for _, tt := range tests {
		t.Run(tt.uuid, func(t *testing.T) {
			if got := EventName(tt.uuid, tt.ext); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPartitionSpan(t *testing.T) {
	tests := []struct {
		key      string
		from, to time.Time
		ok       bool
	}{
		{key: "p/year=2024/month=08/day=03/hour=06/x.jsonl.gz",
			from: time.Date(2024, 8, 3, 6, 0, 0, 0, time.UTC), to: time.Date(2024, 8, 3, 7, 0, 0, 0, time.UTC), ok: true},
		{key: "year=2024/month=12/day=31/hour=23/x",
			from: time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC), to: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), ok: true},
		{key: "org=acme/year=2024/month=02/day=29/x.csv",
			from: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), to: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), ok: true},
		{key: "p/2024/08/03/x.jsonl"},
		{key: "p/year=2024/month=08/x.jsonl"},
		{key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			from, to, ok := PartitionSpan(tt.key)
			if !from.Equal(tt.from) || !to.Equal(tt.to) || ok != tt.ok {
				t.Errorf("got %v %v %v, want %v %v %v", from, to, ok, tt.from, tt.to, tt.ok)
			}
		})
	}
	// Every key the default layout writes has a span that holds its events.
	l, _ := NewLayout("p", "")
	for _, pub := range []time.Time{time.Date(2024, 8, 3, 6, 0, 0, 0, time.UTC), time.Date(2024, 8, 3, 6, 59, 59, 999e6, time.UTC)} {
		from, to, ok := PartitionSpan(l.Dir("acme", pub) + "x")
		if !ok || pub.Before(from) || !pub.Before(to) {
			t.Errorf("%v: got span [%v, %v) %v, want it inside", pub, from, to, ok)
		}
	}
}

func TestOrgOf(t *testing.T) {
	tests := []struct{ key, want string }{
		{"p/org=acme/year=2024/x", "acme"},
		{"org=first/org=second/x", "first"},
		{"p/organization=acme/x", ""},
		{"p/x-org=acme/x", ""},
		{"org=/x", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := OrgOf(tt.key); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLayoutSplitAgreesWithDir: Split puts every record in the group of its
// own Dir, in journal order, groups in the order of their first record,
// for records crossing orgs, hour boundaries (also before 1970) and
// templates of every granularity.
func TestLayoutSplitAgreesWithDir(t *testing.T) {
	base := time.Date(2024, 8, 3, 10, 59, 59, 999e6, time.UTC)
	times := []time.Time{base, base.Add(time.Millisecond), base.Add(time.Hour), base.AddDate(0, 0, 1),
		time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 22, 59, 59, 0, time.UTC),
		base.In(time.FixedZone("x", 5*3600+1800))}
	orgs := []string{"acme", "other"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tmpl := range []string{DefaultTemplate, "{org}/", "{yyyy}/{MM}/{dd}/", "{org}/{HH}/", "flat/"} {
		l, err := NewLayout("p/", tmpl)
		if err != nil {
			t.Fatal(err)
		}
		for round := range 200 {
			recs := make([]event.Record, 1+rng.IntN(12))
			for i := range recs {
				// Runs of equal partitions, as in real batches.
				if i > 0 && rng.IntN(3) > 0 {
					recs[i] = recs[i-1]
				} else {
					recs[i] = event.Record{Org: orgs[rng.IntN(len(orgs))], Published: times[rng.IntN(len(times))]}
				}
				recs[i].Seq, recs[i].UUID = uint64(i+1), strconv.Itoa(i+1)
			}
			var want []Group
			at := map[string]int{}
			for _, r := range recs {
				dir := l.Dir(r.Org, r.Published)
				i, ok := at[dir]
				if !ok {
					i = len(want)
					at[dir] = i
					want = append(want, Group{Dir: dir})
				}
				want[i].Records = append(want[i].Records, r)
			}
			got := l.Split(recs)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("template %s, round %d: got %+v, want %+v", tmpl, round, got, want)
			}
		}
	}
}

// TestLayoutSplitOnePartition: a batch of one partition comes back as
// itself, and appending to its group cannot write into the caller's batch.
func TestLayoutSplitOnePartition(t *testing.T) {
	l, _ := NewLayout("", DefaultTemplate)
	at := time.Date(2024, 8, 3, 10, 0, 0, 0, time.UTC)
	batch := make([]event.Record, 3, 8)
	for i := range batch {
		batch[i] = event.Record{UUID: strconv.Itoa(i), Seq: uint64(i + 1), Org: "acme", Published: at.Add(time.Duration(i) * time.Minute)}
	}
	groups := l.Split(batch)
	if len(groups) != 1 || groups[0].Dir != "year=2024/month=08/day=03/hour=10/" || len(groups[0].Records) != 3 {
		t.Fatalf("got %+v, want one group of 3 in hour 10", groups)
	}
	if &groups[0].Records[0] != &batch[0] {
		t.Errorf("the group is a copy of the batch, want the batch itself")
	}
	_ = append(groups[0].Records, event.Record{UUID: "x"})
	if got := batch[:4][3].UUID; got != "" {
		t.Errorf("appending to the group wrote %q into the batch's spare capacity, want nothing", got)
	}
}

// BenchmarkSplit is an s3 stream's batch of 10,000 events of one org within
// one hour (one partition), and the same over two orgs alternating in runs
// of 100 (a journal message each). One op is one event.
func BenchmarkSplit(b *testing.B) {
	l, _ := NewLayout("bench/", "org={org}/"+DefaultTemplate)
	at := time.Date(2024, 8, 3, 10, 0, 0, 0, time.UTC)
	for _, orgs := range []int{1, 2} {
		b.Run(fmt.Sprint("orgs-", orgs), func(b *testing.B) {
			recs := make([]event.Record, 10000)
			for i := range recs {
				recs[i] = event.Record{Seq: uint64(i + 1), Org: fmt.Sprint("org", i/100%orgs), Published: at.Add(time.Duration(i) * time.Millisecond)}
			}
			b.ReportAllocs()
			for done := 0; done < b.N; done += len(recs) {
				if len(l.Split(recs)) != orgs {
					b.Fatal("wrong groups")
				}
			}
		})
	}
}
