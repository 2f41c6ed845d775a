package cluster

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/sink/s3"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
)

// The suite's S3 log stream archives every org into this bucket and
// prefix, in objects of at most s3MaxEvents events held at most 1 s, with
// a signed digest every 2 s.
const (
	s3Bucket    = "cluster"
	s3Prefix    = "archive/"
	s3MaxEvents = 100
)

// signingKey is the integrity key every node signs export digests with
// (the same on every node of a cluster, as docs/integrity.md says): the
// base64 of a fixed 32-byte seed.
var signingKey = integrity.KeySpec{ID: "cluster-suite", PrivateKey: "YXVkaXRzdHJlYW0tY2x1c3Rlci1zdWl0ZS1rZXktMDE="}

// archiveObject is one data object of the archive, decoded.
type archiveObject struct {
	key         string
	first, last uint64 // journal range, from the key
	ids         []string
	at          time.Time // written (the posix backend's file time)
}

// archiveReader reads the S3 stream's objects back from versitygw. Objects
// are created once and never rewritten (If-None-Match: *), so each is read
// once.
type archiveReader struct {
	srv *s3test.Server

	mu      sync.Mutex
	objs    map[string]archiveObject
	badKeys map[string]string // key → why it could not be read (retried)
}

func startArchive(t *testing.T, host string) *archiveReader {
	t.Helper()
	srv := s3test.Start(t, s3test.Options{Host: host})
	srv.CreateBucket(s3Bucket)
	return &archiveReader{srv: srv, objs: map[string]archiveObject{}, badKeys: map[string]string{}}
}

// settings are the S3 stream's settings.
func (a *archiveReader) settings() map[string]any {
	return map[string]any{
		"bucket": s3Bucket, "region": s3test.Region, "endpoint": a.srv.Endpoint, "forcePathStyle": true,
		"prefix": s3Prefix, "credentials": map[string]any{"accessKeyId": s3test.AccessKey, "secretAccessKey": s3test.SecretKey},
		"batch":   map[string]any{"maxAge": "1s", "maxEvents": s3MaxEvents},
		"digests": map[string]any{"interval": "2s"},
	}
}

// arrivals returns the archived events in the order of the objects'
// journal ranges (first, then last position), each object's events in
// their order; req numbers the object, at is when it was written.
func (a *archiveReader) arrivals(t *testing.T) []arrival {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, key := range a.srv.Keys(t.Context(), s3Bucket, s3Prefix) {
		if _, ok := a.objs[key]; ok || !s3.IsData(key) {
			continue
		}
		o, err := a.read(t, key)
		if err != nil {
			a.badKeys[key] = err.Error() // perhaps still being written: read again next time
			continue
		}
		delete(a.badKeys, key)
		a.objs[key] = o
	}
	objs := make([]archiveObject, 0, len(a.objs))
	for _, o := range a.objs {
		objs = append(objs, o)
	}
	slices.SortFunc(objs, func(x, y archiveObject) int {
		return cmp.Or(cmp.Compare(x.first, y.first), cmp.Compare(x.last, y.last), strings.Compare(x.key, y.key))
	})
	var arr []arrival
	for i, o := range objs {
		for _, id := range o.ids {
			arr = append(arr, arrival{uuid: id, at: o.at, req: i + 1})
		}
	}
	return arr
}

func (a *archiveReader) read(t *testing.T, key string) (archiveObject, error) {
	first, last, _, ok := archive.ObjectRange(key)
	if !ok {
		return archiveObject{}, fmt.Errorf("object %s: no journal range in its name", key)
	}
	at := time.Now()
	if fi, err := os.Stat(filepath.Join(a.srv.Root, s3Bucket, filepath.FromSlash(key))); err == nil {
		at = fi.ModTime()
	}
	body, _ := a.srv.Get(t.Context(), s3Bucket, key)
	evs, err := archive.Decode(key, body)
	if err != nil {
		return archiveObject{}, err
	}
	o := archiveObject{key: key, first: first, last: last, at: at}
	for _, ev := range evs {
		var v struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(ev.Data, &v); err != nil {
			return archiveObject{}, fmt.Errorf("object %s: %w", key, err)
		}
		o.ids = append(o.ids, v.UUID)
	}
	return o, nil
}

// unreadable are the data objects that could not be read or decoded.
func (a *archiveReader) unreadable() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.badKeys)
}

// verifyDigests checks the archive's signed digest chain and the objects
// it lists, as `auditstream verify s3` does, with the nodes' public key.
func (a *archiveReader) verifyDigests(t *testing.T) exportdigest.Report {
	t.Helper()
	kr, err := integrity.NewKeyring([]integrity.KeySpec{signingKey}, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := exportdigest.Verify(t.Context(), s3.BucketStore{Client: a.srv.Client(), Bucket: s3Bucket},
		exportdigest.VerifyOptions{Prefix: s3Prefix, Keys: kr.Lookup(), Data: s3.IsData})
	if err != nil {
		t.Fatalf("verify s3://%s/%s: %v", s3Bucket, s3Prefix, err)
	}
	return r
}
