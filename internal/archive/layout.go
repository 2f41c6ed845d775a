package archive

import (
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/epoch"
	"github.com/auditstream/auditstream/internal/event"
)

// DefaultTemplate is the partition path of an object below the prefix:
// Hive style, so Athena, Spark and DuckDB see year, month, day and hour as
// partition columns (and Athena partition projection can be used).
const DefaultTemplate = "year={yyyy}/month={MM}/day={dd}/hour={HH}/"

// VerifyPrefix starts the name of the object a stream writes when it is
// created or activated, to prove it may write to the bucket.
const VerifyPrefix = "auditstream-verify-test-"

// maxKeyLen is S3's limit on key length, in bytes.
const maxKeyLen = 1024

var placeholderRE = regexp.MustCompile(`\{[^}]*\}`)

// placeholders are what a key template may contain.
var placeholders = map[string]bool{"{org}": true, "{yyyy}": true, "{MM}": true, "{dd}": true, "{HH}": true}

// Layout places archived events in a bucket: the prefix, then the
// partition path rendered from the template for each event, then the
// object's name.
type Layout struct {
	// Prefix is prepended to every key; empty or ending in "/".
	Prefix string
	// Template is the partition path; see DefaultTemplate. Placeholders:
	// {org}, {yyyy}, {MM}, {dd}, {HH} (UTC of the event's published time).
	Template string
}

// NewLayout checks prefix and template and returns their layout; a prefix
// without a trailing "/" gets one, an empty template is DefaultTemplate.
func NewLayout(prefix, template string) (Layout, error) {
	if template == "" {
		template = DefaultTemplate
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var errs []error
	if strings.HasPrefix(prefix, "/") {
		errs = append(errs, fmt.Errorf("prefix %q: must not start with /", prefix))
	}
	if strings.HasPrefix(template, "/") || strings.Contains(template, "//") {
		errs = append(errs, fmt.Errorf("keyTemplate %q: no leading / and no empty path segment", template))
	}
	for _, p := range placeholderRE.FindAllString(template, -1) {
		if !placeholders[p] {
			errs = append(errs, fmt.Errorf("keyTemplate: unknown placeholder %s (known: {org} {yyyy} {MM} {dd} {HH})", p))
		}
	}
	if strings.ContainsAny(strings.ReplaceAll(placeholderRE.ReplaceAllString(template, ""), "/", ""), "{}\\") {
		errs = append(errs, fmt.Errorf("keyTemplate %q: stray brace or backslash", template))
	}
	if len(prefix)+len(template) > maxKeyLen-200 {
		errs = append(errs, fmt.Errorf("prefix and keyTemplate: %d bytes, want at most %d (S3 keys are at most %d bytes)", len(prefix)+len(template), maxKeyLen-200, maxKeyLen))
	}
	if template != "" && !strings.HasSuffix(template, "/") {
		template += "/"
	}
	return Layout{Prefix: prefix, Template: template}, errors.Join(errs...)
}

// Dir is the key prefix of r's partition: Prefix plus the rendered
// template.
func (l Layout) Dir(org string, published time.Time) string {
	t := published.UTC()
	var b strings.Builder
	b.Grow(len(l.Prefix) + len(l.Template) + 16)
	b.WriteString(l.Prefix)
	s := l.Template
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}') + i
		switch s[i : j+1] {
		case "{org}":
			b.WriteString(org)
		case "{yyyy}":
			b.WriteString(pad(t.Year(), 4))
		case "{MM}":
			b.WriteString(pad(int(t.Month()), 2))
		case "{dd}":
			b.WriteString(pad(t.Day(), 2))
		case "{HH}":
			b.WriteString(pad(t.Hour(), 2))
		}
		s = s[j+1:]
	}
	return b.String()
}

func pad(v, width int) string {
	s := strconv.Itoa(v)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// Group is the records of a batch that share one partition, in journal
// order.
type Group struct {
	// Dir is the partition's key prefix.
	Dir     string
	Records []event.Record
}

// Split groups recs by partition, keeping journal order within each group;
// groups come in the order of their first record. A partition depends only
// on the org and the UTC hour (the finest placeholder), so a record of the
// same org and hour as the one before it goes to the same group without
// naming its directory again; when every record shares one partition (an
// s3 stream's usual batch), the group is recs itself (capacity cut to its
// length), not a copy.
func (l Layout) Split(recs []event.Record) []Group {
	if len(recs) == 0 {
		return nil
	}
	one := true
	for i := 1; i < len(recs) && one; i++ {
		one = samePartition(&recs[i-1], &recs[i])
	}
	if one {
		return []Group{{Dir: l.Dir(recs[0].Org, recs[0].Published), Records: recs[:len(recs):len(recs)]}}
	}
	// Runs of one partition (a journal message's events are one org's),
	// then each group sized once and filled by copying its runs.
	type run struct{ group, start, end int }
	var (
		groups []Group
		runs   []run
		sizes  []int
	)
	index := map[string]int{}
	for k := range recs {
		if k > 0 && samePartition(&recs[k-1], &recs[k]) {
			runs[len(runs)-1].end = k + 1
			continue
		}
		dir := l.Dir(recs[k].Org, recs[k].Published)
		i, ok := index[dir]
		if !ok {
			i = len(groups)
			index[dir] = i
			groups = append(groups, Group{Dir: dir})
			sizes = append(sizes, 0)
		}
		runs = append(runs, run{group: i, start: k, end: k + 1})
	}
	for _, r := range runs {
		sizes[r.group] += r.end - r.start
	}
	for i := range groups {
		groups[i].Records = make([]event.Record, 0, sizes[i])
	}
	for _, r := range runs {
		groups[r.group].Records = append(groups[r.group].Records, recs[r.start:r.end]...)
	}
	return groups
}

// samePartition reports whether a and b have the same org and UTC hour,
// and so the same partition under every template.
func samePartition(a, b *event.Record) bool {
	return a.Org == b.Org && epoch.Hour(a.Published) == epoch.Hour(b.Published)
}

// ObjectName names an object holding recs (journal order, at least one):
// the first and last journal sequence, zero-padded so names sort in journal
// order, and a tag of the records' ids and sequences, so that two streams
// writing different events of the same range to one place never collide,
// while a retry of the same records names the same object.
func ObjectName(recs []event.Record, ext string) string {
	return fmt.Sprintf("%020d-%020d-%s%s", recs[0].Seq, recs[len(recs)-1].Seq, Tag(recs), ext)
}

// Tag is the 8-hex-digit content tag of ObjectName.
func Tag(recs []event.Record) string {
	h := fnv.New32a()
	var buf [8]byte
	for _, r := range recs {
		h.Write([]byte(r.UUID))
		for i := range buf {
			buf[i] = byte(r.Seq >> (8 * i))
		}
		h.Write(buf[:])
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

// ObjectRange reads the journal range and tag out of an object name made
// by ObjectName (with or without a directory). ok is false for other
// names.
func ObjectRange(key string) (first, last uint64, tag string, ok bool) {
	name := key[strings.LastIndexByte(key, '/')+1:]
	if len(name) < 20+1+20+1+8 || name[20] != '-' || name[41] != '-' {
		return 0, 0, "", false
	}
	f, err1 := strconv.ParseUint(name[:20], 10, 64)
	l, err2 := strconv.ParseUint(name[21:41], 10, 64)
	if err1 != nil || err2 != nil || f > l {
		return 0, 0, "", false
	}
	return f, l, name[42:50], true
}

// EventName names the object of a single event, as the Lambda handler
// writes it: the event's uuid made safe for a key.
func EventName(uuid, ext string) string {
	var b strings.Builder
	for _, c := range uuid {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return "event-" + b.String() + ext
}

var hourRE = regexp.MustCompile(`year=(\d{4})/month=(\d{2})/day=(\d{2})(?:/hour=(\d{2}))?`)

// PartitionSpan reads a Hive-style year/month/day[/hour] partition out of a
// key and returns the span of time it covers. ok is false when the key has
// no such partition (a custom template), and the object must then be read
// to know its times.
func PartitionSpan(key string) (from, to time.Time, ok bool) {
	m := hourRE.FindStringSubmatch(key)
	if m == nil {
		return time.Time{}, time.Time{}, false
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	if m[4] == "" {
		from = time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(0, 0, 1), true
	}
	h, _ := strconv.Atoi(m[4])
	from = time.Date(y, time.Month(mo), d, h, 0, 0, 0, time.UTC)
	return from, from.Add(time.Hour), true
}

// OrgOf reads an org=<name> path segment out of a key, if any.
func OrgOf(key string) string {
	for seg := range strings.SplitSeq(key, "/") {
		if v, ok := strings.CutPrefix(seg, "org="); ok {
			return v
		}
	}
	return ""
}
