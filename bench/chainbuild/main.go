// Command chainbuild builds a large hash-chained journal to measure
// `auditstream verify journal` on (BENCHMARKS.md, "verify journal over 10
// million events"). It opens the embedded journal in --data-dir as serve
// does, stores --events events of about --size bytes through the real
// writer (journal.Append, batches of --batch from --concurrency goroutines,
// spread over --orgs orgs), and every --digest-every events runs a pass of
// the real digester, signing with the key serve would generate in the data
// directory (integrity/signing-key.pem), so that
//
//	auditstream verify journal --data-dir DIR
//
// finds the journal and the key as it would after serve. Not part of the
// test run:
//
//	go run ./bench/chainbuild --data-dir /tmp/chain10m --events 10000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
)

func main() {
	dataDir := flag.String("data-dir", "", "`DIR` of the embedded journal to build (must be new or empty)")
	events := flag.Int("events", 10_000_000, "events to store")
	orgs := flag.Int("orgs", 4, "orgs the events are spread over (bench0 … benchN-1)")
	batch := flag.Int("batch", 5000, "events per journal.Append call (one org each)")
	conc := flag.Int("concurrency", 4, "goroutines calling journal.Append")
	every := flag.Int("digest-every", 250_000, "run a digester pass after every this many events")
	size := flag.Int("size", 200, "approximate bytes of each event's JSON")
	flag.Parse()
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "chainbuild: --data-dir is required")
		os.Exit(2)
	}
	if err := run(context.Background(), *dataDir, *events, *orgs, *batch, *conc, *every, *size); err != nil {
		fmt.Fprintln(os.Stderr, "chainbuild:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir string, events, orgs, batch, conc, every, size int) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	spec, _, err := integrity.LoadOrGenerate(dataDir)
	if err != nil {
		return err
	}
	keys, err := integrity.NewKeyring([]integrity.KeySpec{spec}, "")
	if err != nil {
		return err
	}
	j, err := journal.Open(ctx, journal.Options{DataDir: dataDir}, log)
	if err != nil {
		return err
	}
	defer j.Close()
	state, err := j.KV(ctx, integrity.Bucket)
	if err != nil {
		return err
	}
	dg := integrity.NewDigester(integrity.DigesterConfig{Interval: time.Minute},
		integrity.DigesterDeps{Journal: j, Keys: keys, State: state, Log: log})

	start := time.Now()
	var stored atomic.Int64
	digests := 0
	for done := 0; done < events; {
		chunk := min(every, events-done)
		if err := appendChunk(ctx, j, done, chunk, orgs, batch, conc, size, &stored); err != nil {
			return err
		}
		done += chunk
		sds, err := dg.Pass(ctx)
		if err != nil {
			return fmt.Errorf("digest pass: %w", err)
		}
		digests += len(sds)
		el := time.Since(start)
		fmt.Fprintf(os.Stderr, "%d events, %d digests, %s, %.0f events/s\n", done, digests, el.Round(time.Second), float64(done)/el.Seconds())
	}
	msgs, bytes, err := j.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("stored %d events (%d new) in %d messages, %d bytes, %d digests, in %s\n",
		events, stored.Load(), msgs, bytes, digests, time.Since(start).Round(time.Second))
	return nil
}

// appendChunk stores events [from, from+n) in batches of one org each.
func appendChunk(ctx context.Context, j *journal.Journal, from, n, orgs, batch, conc, size int, stored *atomic.Int64) error {
	type job struct{ first, n int }
	jobs := make(chan job)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([]event.Record, 0, batch)
			for jb := range jobs {
				recs = recs[:0]
				org := "bench" + strconv.Itoa(jb.first/batch%orgs)
				for i := jb.first; i < jb.first+jb.n; i++ {
					recs = append(recs, record(org, i, size))
				}
				res, err := j.Append(ctx, recs)
				if err != nil {
					errs <- err
					return
				}
				stored.Add(int64(res.Stored))
			}
		}()
	}
	var err error
send:
	for i := from; i < from+n; i += batch {
		select {
		case jobs <- job{i, min(batch, from+n-i)}:
		case err = <-errs:
			break send
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err = <-errs:
		return err
	default:
		return nil
	}
}

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// record is event i of org: an Okta-shaped LogEvent of about size bytes.
func record(org string, i, size int) event.Record {
	uuid := fmt.Sprintf("%08x-%04x-4000-8000-%012x", i>>16, i&0xffff, i)
	pub := t0.Add(time.Duration(i) * time.Millisecond)
	b := fmt.Appendf(make([]byte, 0, size+32),
		`{"uuid":%q,"published":%q,"eventType":"user.session.start","severity":"INFO","actor":{"id":"00u%07d","type":"User"},"client":{"ipAddress":"10.%d.%d.%d"},"outcome":{"result":"SUCCESS"}`,
		uuid, pub.Format("2006-01-02T15:04:05.000Z"), i%1000003, i>>16&255, i>>8&255, i&255)
	if pad := size - len(b) - 12; pad > 0 {
		b = fmt.Appendf(b, `,"pad":%q`, strings.Repeat("x", pad))
	}
	b = append(b, '}')
	return event.Record{UUID: uuid, Org: org, EventType: "user.session.start", Published: pub, Data: b}
}
