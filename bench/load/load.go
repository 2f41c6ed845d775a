package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditstream/auditstream/internal/client"
	"github.com/auditstream/auditstream/internal/pause"
)

const (
	// streamMaxEvents is the bench stream's batch size (settings.maxEvents).
	streamMaxEvents = 1000
	// settle is how long the receiver keeps listening after the last
	// expected event, to count late duplicates.
	settle = 200 * time.Millisecond
	// cleanupTimeout bounds deleting the stream and stopping the receiver,
	// which happen even after --timeout or an interrupt.
	cleanupTimeout = 15 * time.Second
	// maxErrors bounds the send errors kept for the report.
	maxErrors = 5
	// progressEvery is how often progress goes to stderr.
	progressEvery = 5 * time.Second
	// maxStreams bounds --streams.
	maxStreams = 50
)

// config is the tool's parsed flags.
type config struct {
	server      string
	token       string
	events      int
	batch       int
	concurrency int
	rate        float64
	receiver    string
	pid         int
	testdata    string
	timeout     time.Duration
	gzip        bool
	// streams is the number of http streams (filtered when more than one).
	streams int
	// sink is sinkHTTP or sinkS3.
	sink string
	// versitygw is the versitygw binary (--sink s3); s3MaxAge the s3
	// stream's batch.maxAge.
	versitygw string
	s3MaxAge  time.Duration
	// orgs spreads the requests over this many orgs (bench0, bench1, …)
	// with ?org=; 1 sends to the token's org, as before.
	orgs int
	// noise is the generator's noise (--noise).
	noise int
}

// The destinations the tool measures.
const (
	sinkHTTP = "http"
	sinkS3   = "s3"
)

func (c config) validate() error {
	var errs []error
	if err := loopbackURL(c.server); err != nil {
		errs = append(errs, fmt.Errorf("--server: %w", err))
	}
	if host, _, err := net.SplitHostPort(c.receiver); err != nil {
		errs = append(errs, fmt.Errorf("--receiver %q: %w", c.receiver, err))
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		errs = append(errs, fmt.Errorf("--receiver %q: want a loopback IP such as 127.0.0.1", c.receiver))
	}
	if c.token == "" {
		errs = append(errs, errors.New("no token: use --token or set AUDITSTREAM_ADMIN_TOKEN"))
	}
	if c.events <= 0 || c.batch <= 0 || c.concurrency <= 0 {
		errs = append(errs, errors.New("--events, --batch and --concurrency must be positive"))
	}
	if c.batch > client.DefaultBatchEvents {
		errs = append(errs, fmt.Errorf("--batch %d: at most %d", c.batch, client.DefaultBatchEvents))
	}
	switch c.sink {
	case sinkHTTP, "":
		if c.streams < 0 || c.streams > maxStreams {
			errs = append(errs, fmt.Errorf("--streams %d: want 0 (ingest only) to %d", c.streams, maxStreams))
		}
	case sinkS3:
		if c.streams > 1 {
			errs = append(errs, errors.New("--sink s3 runs one stream: leave out --streams"))
		}
		if c.versitygw == "" {
			errs = append(errs, errors.New("--sink s3 needs versitygw (--versitygw)"))
		}
		if c.s3MaxAge <= 0 {
			errs = append(errs, errors.New("--s3-max-age must be positive"))
		}
	default:
		errs = append(errs, fmt.Errorf("--sink %q: want http or s3", c.sink))
	}
	if c.rate < 0 || c.timeout <= 0 {
		errs = append(errs, errors.New("--rate must not be negative and --timeout must be positive"))
	}
	return errors.Join(errs...)
}

// loopbackURL accepts only http URLs of loopback hosts: the tool loads a
// server hard and must not be pointed at someone else's by accident.
func loopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http URL", s)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q: the load tool only targets loopback servers (127.0.0.1)", s)
}

// run performs one load run and returns its report. The report is filled
// as far as the run got even when the run fails part way; err is for
// failures that make it meaningless (no server, no stream).
// ingestOnly says the run creates no stream (--streams 0): it measures
// ingest and the server's cost of keeping the events, and waits for no
// delivery.
func (c config) ingestOnly() bool { return c.sink != sinkS3 && c.streams == 0 }

func run(ctx context.Context, cfg config, progress io.Writer) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	templates, err := loadTemplates(cfg.testdata)
	if err != nil {
		return nil, err
	}
	gen, err := newGenerator(templates)
	if err != nil {
		return nil, err
	}
	gen.noise = cfg.noise
	rt, err := newRoute(gen, cfg.streams)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	start := time.Now()

	var rss *rssSampler
	rssCtx, stopRSS := context.WithCancel(ctx)
	defer stopRSS()
	if cfg.pid > 0 {
		if rss, err = startRSS(rssCtx, cfg.pid); err != nil {
			return nil, err
		}
	}

	answers := &answerCounter{next: &http.Transport{
		Proxy:               nil, // loopback only; never through a proxy
		MaxIdleConnsPerHost: cfg.concurrency + 2,
		IdleConnTimeout:     90 * time.Second,
	}}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: answers}
	defer hc.CloseIdleConnections()
	cl := client.New(cfg.server, cfg.token, hc)
	cl.DisableCompression = !cfg.gzip

	// The destination first, so the streams have somewhere to deliver
	// from their start.
	rc := newReceiver(gen, rt, cfg.events, start)
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := "bench-" + hex.EncodeToString(suffix[:])
	var (
		defs   []client.Stream
		gw     *versitygw
		reader *s3Reader
	)
	switch cfg.sink {
	case sinkS3:
		if gw, err = startVersitygw(ctx, cfg.versitygw); err != nil {
			return nil, err
		}
		defer gw.stop()
		reader = newS3Reader(gw.client(), name+"/", rc)
		defs = []client.Stream{{Type: "s3", Name: name, Settings: gw.streamSettings(name+"/", cfg.s3MaxAge)}}
	default:
		ln, err := net.Listen("tcp", cfg.receiver)
		if err != nil {
			return nil, fmt.Errorf("receiver: %w", err)
		}
		hookSrv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hookSrv.Serve(ln) }()
		defer func() {
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer scancel()
			_ = hookSrv.Shutdown(sctx)
		}()
		for s, filter := range rt.filters {
			settings, _ := json.Marshal(map[string]any{
				"url":       fmt.Sprintf("http://%s/hook/%d", ln.Addr(), s),
				"body":      "batch",
				"maxEvents": streamMaxEvents,
			})
			n := name
			if rt.streams() > 1 {
				n = fmt.Sprintf("%s-%d", name, s)
			}
			defs = append(defs, client.Stream{Type: "http", Name: n, Settings: settings, Filter: filter})
		}
	}
	if cfg.ingestOnly() {
		defs = nil
	}
	var created []string
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer dcancel()
		for _, id := range created {
			if err := cl.DeleteStream(dctx, id); err != nil {
				fmt.Fprintf(progress, "load: delete stream %s: %v\n", id, err)
			}
		}
	}()
	for _, def := range defs {
		stream, err := cl.CreateStream(ctx, def)
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", def.Name, err)
		}
		created = append(created, stream.ID)
		if stream.Status != client.StatusActive {
			if _, err := cl.Activate(ctx, stream.ID); err != nil {
				return nil, fmt.Errorf("activate stream %s: %w", stream.ID, err)
			}
		}
	}
	if reader != nil {
		readCtx, stopReading := context.WithCancel(ctx)
		done := reader.run(readCtx)
		defer func() { stopReading(); <-done }()
	}

	rep := &Report{Events: cfg.events, Sink: cfg.sink, IngestOnly: cfg.ingestOnly()}
	snd := newSender(cfg, gen, cl, start)
	stopProgress := startProgress(ctx, progress, cfg.events, snd, rc)
	defer stopProgress()

	// CPU is measured from just before the first request until the last
	// event was delivered (or the timeout).
	cpu := newCPUSet(cfg.pid, gw)
	ingestStart := time.Now()
	snd.run(ctx)
	ingestEnd := snd.lastAnswer()
	rep.Requests = snd.requests
	rep.Accepted, rep.ServerDuplicates = snd.accepted.Load(), snd.dups.Load()
	rep.Sent = snd.sent.Load()
	rep.NotSent = int64(cfg.events) - rep.Sent
	rep.Errors = snd.errs
	rep.IngestAnswers = answers.result()
	if ingestEnd.After(ingestStart) {
		rep.IngestSeconds = ingestEnd.Sub(ingestStart).Seconds()
		rep.IngestPerSecond = rate(rep.Sent, ingestEnd.Sub(ingestStart))
	}

	// Wait for every sent event, or the timeout.
	rep.TimedOut = !rep.IngestOnly && !waitFor(ctx, func() bool { return rc.received.Load() >= rep.Sent })
	cpuEnd := time.Now()
	cpu.stop(rep, cpuEnd.Sub(ingestStart))
	if !rep.TimedOut {
		_ = pause.For(ctx, settle)
	}
	if reader != nil {
		// One more look, for late duplicates.
		_ = reader.poll(context.WithoutCancel(ctx))
		var bad []string
		rep.Objects, bad = reader.result()
		rep.Errors = append(rep.Errors, bad...)
	}
	stopRSS()
	if rss != nil {
		rep.PeakRSSBytes, rep.HWMBytes = rss.result()
	}

	// Tally.
	rep.Received = rc.received.Load()
	rep.Duplicates = rc.duplicates.Load()
	rep.Foreign = rc.foreign.Load()
	rep.Misrouted = rc.misrouted.Load()
	rep.BadDeliveries = rc.badBodies.Load()
	if first, last := rc.first.Load(), rc.last.Load(); first > 0 && last > first {
		d := time.Duration(last - first)
		rep.DeliverSeconds = d.Seconds()
		// The first receipt opens the interval; the events after it are
		// what was delivered during it.
		rep.DeliveredPerSecond = rate(rep.Received-1, d)
	}
	if last := rc.last.Load(); last > 0 {
		rep.EndToEndPerSecond = rate(rep.Received, start.Add(time.Duration(last-1)).Sub(ingestStart))
	}
	n := rt.streams()
	if rep.IngestOnly {
		n = 0
	}
	rep.Streams = make([]StreamResult, n)
	for s := range rep.Streams {
		rep.Streams[s] = StreamResult{Filter: rt.filters[s], Received: rc.perStream[s].Load()}
	}
	lat := make([]time.Duration, 0, rep.Received)
	for i := range cfg.events {
		if rep.IngestOnly {
			break // nothing was to be delivered
		}
		req := i / cfg.batch
		at := rc.at[i].Load()
		if !snd.ok[req] {
			continue
		}
		s := &rep.Streams[rt.stream(gen, uint64(i))]
		s.Expected++
		if at == 0 {
			rep.Missing++
			s.Missing++
			if rep.MissingByRequest == nil {
				rep.MissingByRequest = map[int]int{}
			}
			if _, ok := rep.MissingByRequest[req]; ok || len(rep.MissingByRequest) < maxMissingRequests {
				rep.MissingByRequest[req]++
			}
			continue
		}
		lat = append(lat, time.Duration(at-1-snd.sentAt[req]))
	}
	rep.Latency = latencies(lat)
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer scancel()
	for s, id := range created {
		rep.Streams[s].ID = id
		if st, err := cl.Status(sctx, id); err == nil {
			rep.Streams[s].Status = &st
		}
	}
	return rep, nil
}

// answerCounter counts the answers to ingest requests (POST
// /api/v1/events) by status, retries included, and failures to get one.
type answerCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (a *answerCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(r)
	if r.Method == http.MethodPost && r.URL.Path == "/api/v1/events" {
		k := "transport error"
		if err == nil {
			k = strconv.Itoa(resp.StatusCode)
		}
		a.mu.Lock()
		if a.n == nil {
			a.n = map[string]int{}
		}
		a.n[k]++
		a.mu.Unlock()
	}
	return resp, err
}

func (a *answerCounter) result() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.n)
}

// CloseIdleConnections passes on to the transport.
func (a *answerCounter) CloseIdleConnections() {
	if c, ok := a.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// cpuSet measures the CPU the processes of a run use: the server (--pid),
// this tool, and the run's versitygw.
type cpuSet struct {
	server, tool, s3 *cpuMeter
}

// newCPUSet starts measuring; a process that cannot be read is left out.
func newCPUSet(pid int, gw *versitygw) *cpuSet {
	c := &cpuSet{}
	if pid > 0 {
		c.server, _ = startCPU(pid)
	}
	c.tool, _ = startCPU(os.Getpid())
	if gw != nil {
		c.s3, _ = startCPU(gw.Pid())
	}
	return c
}

// stop fills rep's CPU figures for a window of d.
func (c *cpuSet) stop(rep *Report, d time.Duration) {
	rep.CPUWindowSeconds = d.Seconds()
	rep.ClockTicks = ClockTicks()
	read := func(m *cpuMeter) float64 {
		if m == nil {
			return 0
		}
		s, _ := m.seconds()
		return s
	}
	rep.ServerCPUSeconds = read(c.server)
	rep.ToolCPUSeconds = read(c.tool)
	rep.S3ServerCPUSeconds = read(c.s3)
	if rep.ServerCPUSeconds > 0 && rep.Sent > 0 {
		rep.ServerCPUPerMillion = rep.ServerCPUSeconds / float64(rep.Sent) * 1e6
	}
}

// sender posts the run's events.
type sender struct {
	cfg   config
	gen   *generator
	cl    *client.Client
	start time.Time

	requests int
	// sentAt[j] is when request j was first sent, in ns since start;
	// ok[j] whether the server took it. Each is written by one worker
	// and read after run returns.
	sentAt []int64
	ok     []bool

	next     atomic.Int64 // next request to send
	sent     atomic.Int64 // events in requests answered 2xx
	accepted atomic.Int64
	dups     atomic.Int64
	last     atomic.Int64 // ns since start of the last answer

	mu   sync.Mutex
	errs []string
}

func newSender(cfg config, gen *generator, cl *client.Client, start time.Time) *sender {
	n := (cfg.events + cfg.batch - 1) / cfg.batch
	return &sender{
		cfg: cfg, gen: gen, cl: cl, start: start,
		requests: n, sentAt: make([]int64, n), ok: make([]bool, n),
	}
}

// run sends every request with cfg.concurrency workers, paced to cfg.rate,
// until done or ctx ends.
func (s *sender) run(ctx context.Context) {
	paceStart := time.Now()
	var wg sync.WaitGroup
	for range s.cfg.concurrency {
		wg.Go(func() {
			// Each worker builds its bodies in one reused buffer, so the
			// tool holds about concurrency bodies at a time, whatever --events.
			var buf []byte
			for {
				j := int(s.next.Add(1) - 1)
				if j >= s.requests || ctx.Err() != nil {
					return
				}
				lo := j * s.cfg.batch
				hi := min(lo+s.cfg.batch, s.cfg.events)
				if s.cfg.rate > 0 {
					due := paceStart.Add(time.Duration(float64(lo) / s.cfg.rate * float64(time.Second)))
					if pause.For(ctx, time.Until(due)) != nil {
						return
					}
				}
				published := time.Now().UTC().Format(publishedFormat)
				buf = buf[:0]
				for i := lo; i < hi; i++ {
					buf = s.gen.appendEvent(buf, uint64(i), published)
				}
				s.sentAt[j] = int64(time.Since(s.start))
				var res client.Result
				var err error
				if s.cfg.orgs > 1 {
					res, err = s.cl.SendBatchTo(ctx, fmt.Sprintf("bench%d", j%s.cfg.orgs), buf)
				} else {
					res, err = s.cl.SendBatch(ctx, buf)
				}
				s.noteAnswer(int64(time.Since(s.start)))
				if err != nil {
					s.mu.Lock()
					if len(s.errs) < maxErrors {
						s.errs = append(s.errs, fmt.Sprintf("request %d (events %d-%d): %v", j, lo, hi-1, err))
					}
					s.mu.Unlock()
					continue
				}
				s.ok[j] = true
				s.sent.Add(int64(hi - lo))
				s.accepted.Add(res.Accepted)
				s.dups.Add(res.Duplicates)
			}
		})
	}
	wg.Wait()
}

// noteAnswer raises last to t.
func (s *sender) noteAnswer(t int64) {
	for {
		l := s.last.Load()
		if t <= l || s.last.CompareAndSwap(l, t) {
			return
		}
	}
}

// lastAnswer is when the last request was answered.
func (s *sender) lastAnswer() time.Time {
	return s.start.Add(time.Duration(s.last.Load()))
}

// waitFor polls done until it is true (true) or ctx ends (false).
func waitFor(ctx context.Context, done func() bool) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return done()
		case <-t.C:
		}
	}
	return true
}

// startProgress writes a progress line every progressEvery until stopped.
func startProgress(ctx context.Context, w io.Writer, total int, s *sender, rc *receiver) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := every(ctx, progressEvery, func() {
		fmt.Fprintf(w, "load: sent %d/%d, received %d\n", s.sent.Load(), total, rc.received.Load())
	})
	return func() { cancel(); <-done }
}

// every calls f every d, from a goroutine, until ctx ends; the channel it
// returns is closed once that goroutine has ended.
func every(ctx context.Context, d time.Duration, f func()) <-chan struct{} {
	t := time.NewTicker(d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f()
			case <-ctx.Done():
				return
			}
		}
	}()
	return done
}
