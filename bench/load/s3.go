package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
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
	// versitygwStart bounds versitygw's start.
	versitygwStart = 15 * time.Second
)

// versitygw is a running versitygw with a posix backend on a temporary
// directory.
type versitygw struct {
	endpoint string
	root     string
	cmd      *exec.Cmd
	done     chan struct{}
	logs     bytes.Buffer
}

// findVersitygw returns path when set, else $VERSITYGW, versitygw on PATH,
// or $GOPATH/bin/versitygw ($HOME/go/bin without GOPATH).
func findVersitygw(path string, env func(string) string) (string, error) {
	if path != "" {
		return path, nil
	}
	if p := env("VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := env("GOPATH")
	if gopath == "" && env("HOME") != "" {
		gopath = filepath.Join(env("HOME"), "go")
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("versitygw not found: use --versitygw, set VERSITYGW, or go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	g := &versitygw{endpoint: "http://" + addr, root: root, done: make(chan struct{})}
	g.cmd = exec.Command(bin, "--port", addr, "--health", "/health", "--quiet", "posix", root)
	g.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s3AccessKey, "ROOT_SECRET_ACCESS_KEY="+s3SecretKey)
	g.cmd.Stdout, g.cmd.Stderr = &g.logs, &g.logs
	if err := g.cmd.Start(); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	deadline := time.Now().Add(versitygwStart)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.endpoint+"/health", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		select {
		case <-g.done:
			out := g.logs.String()
			g.stop()
			return nil, fmt.Errorf("versitygw exited at start: %s", out)
		case <-ctx.Done():
			g.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("versitygw did not answer in %s (last error %v)", versitygwStart, err)
		}
	}
}

// pid is versitygw's process id.
func (g *versitygw) pid() int { return g.cmd.Process.Pid }

// stop kills versitygw and removes its data.
func (g *versitygw) stop() {
	_ = g.cmd.Process.Kill()
	<-g.done
	os.RemoveAll(g.root)
}

// client is an SDK client for the server.
func (g *versitygw) client() *s3api.Client {
	return s3api.New(s3api.Options{
		Region:                     s3Region,
		BaseEndpoint:               aws.String(g.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s3AccessKey, s3SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: &http.Transport{Proxy: nil}},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// streamSettings are the s3 stream's settings: gzip NDJSON (the default
// format) under prefix, written at maxAge or s3MaxEvents.
func (g *versitygw) streamSettings(prefix string, maxAge time.Duration) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"bucket": s3Bucket, "region": s3Region, "endpoint": g.endpoint, "forcePathStyle": true,
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
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, maxHookBody)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		id, err := lineUUID(line)
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
