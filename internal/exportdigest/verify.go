package exportdigest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind says what a Finding is about.
type Kind string

// The kinds of findings.
const (
	// Failures: Verify's report is not clean.
	ModifiedObject Kind = "modified object" // an object's size or SHA-256 differs from its digest's
	MissingObject  Kind = "missing object"  // an object a digest lists is gone
	BrokenChain    Kind = "broken chain"    // a digest's previous link is missing, modified or out of order
	BadDigest      Kind = "bad digest"      // unreadable, unsigned, forged or signed with an unknown key
	// Warnings.
	Undigested Kind = "object in no digest" // older than the newest digest, yet in none
	// Information.
	NewObject    Kind = "new object"     // written since the newest digest: the next digest will list it
	BeforeDigest Kind = "before digests" // written before the stream's first digest
)

// Finding is one thing Verify found.
type Finding struct {
	Kind Kind `json:"kind"`
	// Key is the object or digest it is about.
	Key string `json:"key"`
	// Detail says what is wrong, in words.
	Detail string `json:"detail,omitempty"`
}

func (f Finding) String() string {
	if f.Detail == "" {
		return fmt.Sprintf("%s: %s", f.Kind, f.Key)
	}
	return fmt.Sprintf("%s: %s: %s", f.Kind, f.Key, f.Detail)
}

// Report is what Verify found.
type Report struct {
	// Digests, Objects and Events are what verified: digests with a good
	// signature and objects whose bytes match their digest.
	Digests int `json:"digests"`
	Objects int `json:"objects"`
	Events  int `json:"events"`
	// From and To are the published times of the first and last event of
	// the verified objects (zero when unknown).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Streams are the stream ids whose chains were checked.
	Streams []string `json:"streams"`
	// Failures make the report unclean; Warnings and Infos do not.
	Failures []Finding `json:"failures"`
	Warnings []Finding `json:"warnings"`
	Infos    []Finding `json:"infos"`
}

// OK reports whether nothing failed.
func (r Report) OK() bool { return len(r.Failures) == 0 }

// Summary is the report's last line: "verified N objects, M events from T1
// to T2" when clean.
func (r Report) Summary() string {
	if !r.OK() {
		return fmt.Sprintf("FAILED: %d problems (%d digests, %d objects verified)", len(r.Failures), r.Digests, r.Objects)
	}
	s := fmt.Sprintf("verified %d objects, %d events", r.Objects, r.Events)
	if !r.From.IsZero() {
		s += fmt.Sprintf(" from %s to %s", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	return s + fmt.Sprintf(" (%d digests)", r.Digests)
}

// VerifyOptions say what Verify checks.
type VerifyOptions struct {
	// Prefix is the stream's prefix (empty or ending in "/").
	Prefix string
	// Keys are the trusted public keys. Required.
	Keys KeyLookup
	// Data reports whether a key below Prefix is a data object; nil means
	// every key outside the digest directory.
	Data func(key string) bool
}

type readDigest struct {
	obj    Object
	sha    string
	d      Digest
	ok     bool // signature verified
	stream string
}

// Verify checks the digests below opts.Prefix in store and the objects
// they list; see Report. The error is for a store that could not be
// listed; everything found is in the report.
func Verify(ctx context.Context, store Store, opts VerifyOptions) (Report, error) {
	r := Report{Streams: []string{}, Failures: []Finding{}, Warnings: []Finding{}, Infos: []Finding{}} // [] in JSON, not null
	if opts.Data == nil {
		opts.Data = func(string) bool { return true }
	}
	dobjs, err := store.List(ctx, opts.Prefix+Dir)
	if err != nil {
		return r, fmt.Errorf("list digests: %w", err)
	}
	all, err := store.List(ctx, opts.Prefix)
	if err != nil {
		return r, fmt.Errorf("list objects: %w", err)
	}
	data := map[string]Object{}
	for _, o := range all {
		if !strings.HasPrefix(o.Key, opts.Prefix+Dir) && opts.Data(o.Key) {
			data[o.Key] = o
		}
	}

	// Read and check every digest; group them by stream.
	byKey := map[string]*readDigest{}
	chains := map[string][]*readDigest{}
	for _, o := range dobjs {
		if !strings.HasSuffix(o.Key, ".json") {
			continue
		}
		b, err := store.Read(ctx, o.Key)
		if err != nil {
			r.Failures = append(r.Failures, Finding{BadDigest, o.Key, fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		rd := &readDigest{obj: o, sha: Hash(b), stream: streamOfKey(o.Key)}
		byKey[o.Key] = rd
		d, _, err := Open(b, opts.Keys)
		if err != nil {
			r.Failures = append(r.Failures, Finding{BadDigest, o.Key, err.Error()})
		} else {
			rd.d, rd.ok = d, true
			if d.Stream != "" && safeName(d.Stream) != rd.stream {
				r.Failures = append(r.Failures, Finding{BadDigest, o.Key, fmt.Sprintf("names stream %q, but its key is of stream %q (moved?)", d.Stream, rd.stream)})
			}
			if want := Key(opts.Prefix, d.Stream, d.End); want != o.Key {
				r.Failures = append(r.Failures, Finding{BadDigest, o.Key, fmt.Sprintf("its contents say it was written as %s (renamed or copied?)", want)})
			}
			r.Digests++
		}
		chains[rd.stream] = append(chains[rd.stream], rd)
	}

	// Check each chain's links in key (time) order.
	var first, newest time.Time
	for stream, ds := range chains {
		r.Streams = append(r.Streams, stream)
		sort.Slice(ds, func(i, j int) bool { return ds[i].obj.Key < ds[j].obj.Key })
		if first.IsZero() || ds[0].obj.Modified.Before(first) {
			first = ds[0].obj.Modified
		}
		if l := ds[len(ds)-1].obj.Modified; l.After(newest) {
			newest = l
		}
		for i, rd := range ds {
			if !rd.ok {
				continue
			}
			p := rd.d.Previous
			switch {
			case p == nil && i > 0:
				r.Failures = append(r.Failures, Finding{BrokenChain, rd.obj.Key, fmt.Sprintf("starts a new chain, but digest %s comes before it", ds[i-1].obj.Key)})
			case p == nil:
			case byKey[p.Key] == nil:
				r.Failures = append(r.Failures, Finding{BrokenChain, rd.obj.Key, fmt.Sprintf("names previous digest %s, which is missing", p.Key)})
			case byKey[p.Key].sha != p.SHA256:
				r.Failures = append(r.Failures, Finding{BrokenChain, rd.obj.Key, fmt.Sprintf("names previous digest %s with SHA-256 %s, but it has %s (replaced)", p.Key, p.SHA256, byKey[p.Key].sha)})
			case i == 0 || ds[i-1].obj.Key != p.Key:
				prev := "none"
				if i > 0 {
					prev = ds[i-1].obj.Key
				}
				r.Failures = append(r.Failures, Finding{BrokenChain, rd.obj.Key, fmt.Sprintf("names previous digest %s, but the digest before it is %s (inserted or reordered)", p.Key, prev)})
			}
		}
	}
	sort.Strings(r.Streams)

	// Check every object the good digests list.
	listed := map[string]bool{}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rd := byKey[k]
		if !rd.ok {
			continue
		}
		for _, e := range rd.d.Objects {
			// An object written again after a restart (the same key, a
			// create that found it there) may be listed twice: checked
			// each time, counted once.
			again := listed[e.Key]
			listed[e.Key] = true
			o, ok := data[e.Key]
			if !ok {
				r.Failures = append(r.Failures, Finding{MissingObject, e.Key, "listed in digest " + k})
				continue
			}
			if o.Size != e.Size {
				r.Failures = append(r.Failures, Finding{ModifiedObject, e.Key, fmt.Sprintf("size %d, digest %s says %d", o.Size, k, e.Size)})
				continue
			}
			b, err := store.Read(ctx, e.Key)
			if errors.Is(err, ErrNotFound) {
				r.Failures = append(r.Failures, Finding{MissingObject, e.Key, "listed in digest " + k})
				continue
			}
			if err != nil {
				r.Failures = append(r.Failures, Finding{MissingObject, e.Key, fmt.Sprintf("cannot read: %v", err)})
				continue
			}
			if h := Hash(b); h != e.SHA256 {
				r.Failures = append(r.Failures, Finding{ModifiedObject, e.Key, fmt.Sprintf("SHA-256 %s, digest %s says %s", h, k, e.SHA256)})
				continue
			}
			if again {
				continue
			}
			r.Objects++
			r.Events += e.Events
			if !e.FirstPublished.IsZero() && (r.From.IsZero() || e.FirstPublished.Before(r.From)) {
				r.From = e.FirstPublished
			}
			if e.LastPublished.After(r.To) {
				r.To = e.LastPublished
			}
		}
	}

	// Objects no digest lists.
	unlisted := make([]string, 0)
	for k := range data {
		if !listed[k] {
			unlisted = append(unlisted, k)
		}
	}
	sort.Strings(unlisted)
	for _, k := range unlisted {
		o := data[k]
		switch {
		case len(chains) == 0 || o.Modified.After(newest):
			r.Infos = append(r.Infos, Finding{NewObject, k, "written after the newest digest; the next digest should list it"})
		case o.Modified.Before(first):
			r.Infos = append(r.Infos, Finding{BeforeDigest, k, "written before the first digest: not covered"})
		default:
			r.Warnings = append(r.Warnings, Finding{Undigested, k, "older than the newest digest, yet listed in none (added by hand, or its digest was deleted)"})
		}
	}
	return r, nil
}

// streamOfKey reads the stream name out of a digest key:
// .../<stream>_<time>.json.
func streamOfKey(key string) string {
	name := key[strings.LastIndexByte(key, '/')+1:]
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		return name[:i]
	}
	return name
}
