package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	gw "github.com/auditstream/auditstream/internal/versitygw"

	"github.com/auditstream/auditstream/internal/ndjson"
)

// The versitygw the tool runs for --sink s3: fixed credentials, region and
// bucket (it lives only for the run, on loopback).
const (
	s3AccessKey = "AUDITSTREAMBENCH"
	s3SecretKey = "auditstream-bench-secret-0123456789"
	s3Region    = "us-east-1"
	s3Bucket    = "bench"
	// s3MaxEvents is the stream's batch.maxEvents: objects of about 10,000
	// events, as in the comparison.
	s3MaxEvents = 10000
	// s3Poll is how often the tool lists the bucket for new objects; it is
	// the resolution of the s3 run's delivery times.
	s3Poll = 200 * time.Millisecond
)

// versitygw is a running versitygw with a posix backend on a temporary
// directory.
type versitygw struct {
	*gw.Process
	root string
	logs bytes.Buffer
}

// findVersitygw returns path when set, else the installed versitygw env
// points to (gw.Lookup: $VERSITYGW, PATH, $GOPATH/bin or $HOME/go/bin).
func findVersitygw(path string, env func(string) string) (string, error) {
	if path != "" {
		return path, nil
	}
	p, err := gw.Lookup(env)
	if err != nil {
		return "", fmt.Errorf("%w (or use --versitygw)", err)
	}
	return p, nil
}

// startVersitygw runs bin on a free loopback port with a fresh posix root
// holding the bucket s3Bucket, and waits until it answers.
func startVersitygw(ctx context.Context, bin string) (*versitygw, error) {
	root, err := os.MkdirTemp("", "bench-versitygw-")
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(root, s3Bucket), 0o755); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	g := &versitygw{root: root}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	g.Process, err = gw.Start(ctx, bin, gw.Options{Root: root, AccessKey: s3AccessKey, SecretKey: s3SecretKey, HTTPClient: hc, Output: &g.logs})
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("%w: %s", err, g.logs.String())
	}
	return g, nil
}

// stop kills versitygw and removes its data.
func (g *versitygw) stop() {
	g.Stop()
	os.RemoveAll(g.root)
}

// client is an SDK client for the server.
func (g *versitygw) client() *s3api.Client {
	return gw.Client(g.Endpoint, s3Region, s3AccessKey, s3SecretKey, &http.Client{Transport: &http.Transport{Proxy: nil}})
}

// streamSettings are the s3 stream's settings: gzip NDJSON (the default
// format) under prefix, written at maxAge or s3MaxEvents.
func (g *versitygw) streamSettings(prefix string, maxAge time.Duration) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"bucket": s3Bucket, "region": s3Region, "endpoint": g.Endpoint, "forcePathStyle": true,
		"prefix":      prefix,
		"credentials": map[string]any{"accessKeyId": s3AccessKey, "secretAccessKey": s3SecretKey},
		"batch":       map[string]any{"maxAge": maxAge.String(), "maxEvents": s3MaxEvents},
	})
	return b
}

// s3Reader finds the objects the s3 stream writes under prefix and feeds
// their events to a receiver as stream 0, each with the time its object
// was first listed as its receipt time.
type s3Reader struct {
	cl     *s3api.Client
	prefix string
	rc     *receiver

	mu      sync.Mutex
	seen    map[string]bool
	objects int
	bad     []string
}

func newS3Reader(cl *s3api.Client, prefix string, rc *receiver) *s3Reader {
	return &s3Reader{cl: cl, prefix: prefix, rc: rc, seen: map[string]bool{}}
}

// run polls every s3Poll until ctx ends.
func (r *s3Reader) run(ctx context.Context) <-chan struct{} {
	return every(ctx, s3Poll, func() { _ = r.poll(ctx) })
}

// poll lists the prefix and reads every object not read before. Only
// objects of events count: names ending in .jsonl.gz (the verification
// object the stream writes at creation is not one).
func (r *s3Reader) poll(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := s3api.NewListObjectsV2Paginator(r.cl, &s3api.ListObjectsV2Input{Bucket: aws.String(s3Bucket), Prefix: aws.String(r.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s3Bucket, r.prefix, err)
		}
		now := int64(time.Since(r.rc.start)) + 1
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if r.seen[key] || !strings.HasSuffix(key, ".jsonl.gz") {
				continue
			}
			if err := r.read(ctx, key, now); err != nil {
				if len(r.bad) < maxErrors {
					r.bad = append(r.bad, err.Error())
				}
				r.rc.badBodies.Add(1)
			}
			r.seen[key] = true
			r.objects++
		}
	}
	return nil
}

// read feeds the events of one gzip NDJSON object to the receiver.
func (r *s3Reader) read(ctx context.Context, key string, now int64) error {
	out, err := r.cl.GetObject(ctx, &s3api.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(out.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	sc := ndjson.NewScanner(zr, maxHookBody)
	for sc.Scan() {
		id, err := lineUUID(sc.Bytes())
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		r.rc.record(id, 0, now)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// lineUUID returns the uuid of one stored event. The tool writes uuid
// first and the server stores events as sent, so the common case is a
// prefix check; anything else is decoded.
func lineUUID(line []byte) (string, error) {
	const head = `{"uuid":"`
	if len(line) > len(head)+36 && string(line[:len(head)]) == head && line[len(head)+36] == '"' {
		return string(line[len(head) : len(head)+36]), nil
	}
	var e hookEvent
	if err := json.Unmarshal(line, &e); err != nil {
		return "", err
	}
	return e.UUID, nil
}

// result returns the number of event objects read and the first errors.
func (r *s3Reader) result() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.objects, r.bad
}
