package journal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/health"
)

// Default settings, named so their reasons stay next to them.
const (
	// DefaultStream is the JetStream stream that holds all events.
	DefaultStream = "AUDIT"
	// DefaultMaxBytes caps the journal at 10 GiB: a byte cap protects the
	// disk, while age is unlimited so nothing ages out unless asked.
	DefaultMaxBytes = 10 << 30
	// DefaultDuplicateWindow is how long an event uuid is remembered for
	// de-duplication. JetStream keeps the ids of the window in memory, so
	// a long window costs memory at high ingest rates.
	DefaultDuplicateWindow = 10 * time.Minute
	// DefaultDeadLetterStream holds events a log stream could not deliver.
	DefaultDeadLetterStream = "AUDIT_DEADLETTER"
	// DefaultDeadLetterMaxBytes caps the dead-letter stream.
	DefaultDeadLetterMaxBytes = 1 << 30
	// DefaultAppendTimeout is how long Append waits without any
	// acknowledgement from JetStream. A healthy journal, even flooded,
	// acknowledges something every few milliseconds; past this the store
	// is stuck (disk full, write error) and the producer is better served
	// by a quick 503/507 to retry.
	DefaultAppendTimeout = 5 * time.Second
	// natsPingInterval is how often the connection to an external NATS
	// server is checked.
	natsPingInterval = 2 * time.Second
	// embeddedMaxPending is the embedded server's outbound buffer for its
	// in-process client.
	embeddedMaxPending = 1 << 30
	// maxPendingAsync bounds unacknowledged async publishes per connection.
	maxPendingAsync = 4096
)

// Header names carried on every event message, so consumers can route and
// batch without parsing the event.
const (
	HeaderOrg       = "Audit-Org"
	HeaderType      = "Audit-Type"
	HeaderPublished = "Audit-Published"
	HeaderSource    = "Audit-Source"
	HeaderAccount   = "Audit-Account"
	// HeaderUUID is the event's uuid. The JetStream message id is
	// "<org>/<uuid>", so that de-duplication never lets one org's event
	// stand in for another's.
	HeaderUUID = "Audit-UUID"
)

// MsgID is the JetStream message id of an org's event.
func MsgID(org, uuid string) string { return org + "/" + uuid }

// UUIDOf returns the event uuid carried by a journal message's headers.
func UUIDOf(h nats.Header) string {
	if u := h.Get(HeaderUUID); u != "" {
		return u
	}
	id := h.Get(jetstream.MsgIDHeader)
	if i := strings.IndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// Options configure the journal.
type Options struct {
	// DataDir is where the embedded server keeps its files. Ignored with URL.
	DataDir string
	// URL, when set, connects to an external NATS server or cluster
	// instead of starting one.
	URL string
	// Stream names the events stream (DefaultStream when empty).
	Stream string
	// MaxAge drops events older than this (0: keep forever).
	MaxAge time.Duration
	// MaxBytes caps the stream's size (0: DefaultMaxBytes, -1:
	// unlimited). At the cap appends fail with ErrFull: JetStream never
	// deletes events to make room, the retention manager purges them.
	MaxBytes int64
	// DeadLetterMaxBytes caps the dead-letter stream (0:
	// DefaultDeadLetterMaxBytes, -1: unlimited). At the cap dead-letter
	// writes fail; old letters are never deleted to make room.
	DeadLetterMaxBytes int64
	// DuplicateWindow is the uuid de-duplication window.
	DuplicateWindow time.Duration
	// DuplicateWindowMaxIDs bounds the window by count (0:
	// DefaultDuplicateWindowMaxIDs): an event is de-duplicated within the
	// last DuplicateWindow or the last DuplicateWindowMaxIDs events,
	// whichever is shorter.
	DuplicateWindowMaxIDs int
	// SyncAlways fsyncs every write before acknowledging it (embedded only).
	SyncAlways bool
	// SyncInterval is how often the embedded server fsyncs (0: JetStream's
	// default).
	SyncInterval time.Duration
	// Replicas for the streams and buckets on a cluster (default 1).
	Replicas int
	// Partitions is how many streams hold the events (default 1), each
	// with its own leader on a cluster; an org's events are all in one
	// (see partition.go). MaxBytes is split evenly between them. The count
	// is fixed when the journal is created.
	Partitions int
	// Compression is how record batches store their events' JSON
	// (CompressS2 when empty; CompressNone writes batches releases before
	// compression read).
	Compression Compression
	// Listen, when set, makes the embedded server also listen for NATS
	// clients on this host:port (for a second node or nats CLI). It
	// requires ListenToken: the journal holds every event and the token
	// store, so an open listener would hand both to anyone who connects.
	Listen string
	// ListenToken is the token clients of Listen authenticate with
	// (nats://TOKEN@host:port).
	ListenToken string
	// AppendTimeout is how long Append waits without any acknowledgement
	// before it gives up (0: DefaultAppendTimeout).
	AppendTimeout time.Duration
	// Health, when set, receives the journal's conditions: "journal.append"
	// (NotReady while appends fail), "journal.lost" (Degraded from events
	// found missing at start until AcknowledgeLost) and "journal.sizing"
	// (Degraded when the caps exceed the disk).
	Health *health.Board
	// DiskSpace reports free and total bytes of the store's file system
	// (nil: statfs). Tests inject it.
	DiskSpace DiskSpace
	// maxStore, when positive, overrides JetStreamMaxStore (tests).
	maxStore int64
}

// Journal is the event store plus the state buckets. It is safe for
// concurrent use.
type Journal struct {
	opts Options
	log  *slog.Logger
	srv  *server.Server // nil when external
	nc   *nats.Conn
	js   jetstream.JetStream
	dead jetstream.Stream
	// parts are the events streams (one unless Options.Partitions).
	parts []*Partition
	// full is signalled when an append hits the byte cap (see Full).
	full chan struct{}
	// inflated keeps the JSON of the compressed batches decoded last
	// (Journal.Decode).
	inflated *inflateCache
	// written counts the record batches this process stored (see
	// Written).
	written struct{ batches, stored atomic.Uint64 }

	// Embedded only: the data dir's lock, the store's directory, the
	// server's JetStream settings (to restart it after a write error) and
	// how the store was sized.
	lock     *dirLock
	dataDir  string
	storeDir string
	jsConfig server.JetStreamConfig
	sizing   storeSizing

	// health tracks append failures and recovery (see health.go).
	health appendHealth
	// pub is Append's JetStream context, replaced after a JetStream
	// restart so futures the old store never answered cannot hold its
	// pending slots.
	pub  atomic.Pointer[publisher]
	stop context.CancelFunc
	done chan struct{}
	// purgeHook is told what each Purge removed (see SetPurgeHook).
	purgeHook atomic.Pointer[PurgeHook]
}

// Open starts (or connects to) NATS, and creates or updates the streams.
func Open(ctx context.Context, opts Options, log *slog.Logger) (*Journal, error) {
	opts.Stream = cmp.Or(opts.Stream, DefaultStream)
	opts.MaxBytes = cmp.Or(opts.MaxBytes, DefaultMaxBytes)
	opts.DuplicateWindow = cmp.Or(opts.DuplicateWindow, DefaultDuplicateWindow)
	opts.DuplicateWindowMaxIDs = cmp.Or(opts.DuplicateWindowMaxIDs, DefaultDuplicateWindowMaxIDs)
	opts.Replicas = cmp.Or(opts.Replicas, 1)
	opts.DeadLetterMaxBytes = cmp.Or(opts.DeadLetterMaxBytes, DefaultDeadLetterMaxBytes)
	opts.Partitions = cmp.Or(opts.Partitions, 1)
	if opts.Partitions < 1 || opts.Partitions > MaxPartitions {
		return nil, fmt.Errorf("journal.partitions: %d is not 1 to %d", opts.Partitions, MaxPartitions)
	}
	if opts.AppendTimeout <= 0 {
		opts.AppendTimeout = DefaultAppendTimeout
	}
	opts.Compression = cmp.Or(opts.Compression, CompressS2)
	if opts.Compression != CompressS2 && opts.Compression != CompressNone {
		return nil, fmt.Errorf("journal.compression: %q is not %s or %s", opts.Compression, CompressS2, CompressNone)
	}
	if opts.DiskSpace == nil {
		opts.DiskSpace = statfsSpace
	}
	j := &Journal{opts: opts, log: log, full: make(chan struct{}, 1), inflated: newInflateCache(DefaultInflateCacheBytes)}
	for i := range opts.Partitions {
		j.parts = append(j.parts, &Partition{j: j, index: i, name: partitionName(opts.Stream, i, opts.Partitions)})
	}
	var err error
	if opts.URL != "" {
		// Pings every 2 s, two unanswered: a black-holed connection is
		// found in about 6 s rather than nats.go's default 4 minutes, so
		// ingest answers 503 instead of waiting on it.
		j.nc, err = nats.Connect(opts.URL, nats.Name("auditstream"), nats.MaxReconnects(-1),
			nats.PingInterval(natsPingInterval), nats.MaxPingsOutstanding(2))
		if err != nil {
			return nil, fmt.Errorf("connect to nats %s: %w", opts.URL, err)
		}
	} else {
		if err := j.startEmbedded(); err != nil {
			j.lock.release()
			return nil, err
		}
	}
	j.js, err = jetstream.New(j.nc, jetstream.WithPublishAsyncMaxPending(maxPendingAsync))
	if err == nil {
		err = j.newPublisher()
	}
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	// A status bucket created just now on a cluster answers "no
	// responders" until its leader is elected: retried like the streams.
	if err := j.retryStart(ctx, j.checkPartitions); err != nil {
		j.Close()
		return nil, err
	}
	if err := j.retryStart(ctx, j.setupStreams); err != nil {
		j.Close()
		return nil, err
	}
	j.spreadLeaders(ctx)
	if j.srv != nil {
		if err := j.checkState(ctx); err != nil {
			j.Close()
			return nil, err
		}
	}
	if err := j.retryStart(ctx, j.startWriter); err != nil {
		j.Close()
		return nil, err
	}
	j.startMonitor()
	return j, nil
}

// startWriter rebuilds each partition's uuid window from its tail and
// starts its writer goroutine.
func (j *Journal) startWriter(ctx context.Context) error {
	for _, p := range j.parts {
		w := newWriter(j, p)
		if _, err := w.sync(ctx); err != nil {
			return fmt.Errorf("read the journal's tail (%s) into the de-duplication window: %w", p.name, err)
		}
		wctx, stop := context.WithCancel(context.Background())
		p.writer, p.stopWriter, p.writerDone = w, stop, make(chan struct{})
		go func() {
			defer close(p.writerDone)
			w.run(wctx)
		}()
	}
	return nil
}

func (j *Journal) startEmbedded() error {
	dir := j.opts.DataDir
	if dir == "" {
		dir = "data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	lock, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	j.lock, j.dataDir = lock, dir
	j.storeDir = filepath.Join(dir, "jetstream")
	if err := os.MkdirAll(j.storeDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	j.sizing, err = sizeStoreParts(j.storeDir, j.streamNames(), j.opts.MaxBytes, j.opts.DeadLetterMaxBytes, j.opts.DiskSpace)
	if err != nil {
		return fmt.Errorf("size the journal: %w", err)
	}
	if j.opts.maxStore > 0 {
		j.sizing.MaxStore = j.opts.maxStore
	}
	if j.sizing.Warning != "" {
		j.log.Warn(j.sizing.Warning)
		j.opts.Health.Set(ConditionSizing, health.Degraded, j.sizing.Condition)
	}
	so := &server.Options{
		ServerName:   "auditstream",
		JetStream:    true,
		StoreDir:     filepath.Join(dir, "jetstream"),
		DontListen:   true,
		NoSigs:       true,
		SyncAlways:   j.opts.SyncAlways,
		SyncInterval: j.opts.SyncInterval,
		MaxPayload:   maxPayload,
		// The one client is this process: every log stream's runner and
		// the query index pull over it (up to 8 MiB each in flight), so
		// the default 64 MiB would close it as a slow consumer with a
		// dozen streams under load, dropping ingest's connection too.
		MaxPending:         embeddedMaxPending,
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  j.sizing.MaxStore,
	}
	// The same settings server.Start gives JetStream, kept to restart it
	// after a write error (see restartJetStream in health.go).
	j.jsConfig = server.JetStreamConfig{StoreDir: so.StoreDir, SyncInterval: so.SyncInterval, SyncAlways: so.SyncAlways,
		Strict: true, MaxMemory: so.JetStreamMaxMemory, MaxStore: so.JetStreamMaxStore, CompressOK: true}
	if j.opts.Listen != "" {
		if len(j.opts.ListenToken) < 16 {
			return errors.New("journal: exposing the embedded NATS server needs a token of at least 16 characters")
		}
		host, port, err := splitHostPort(j.opts.Listen)
		if err != nil {
			return err
		}
		so.DontListen, so.Host, so.Port = false, host, port
		so.Authorization = j.opts.ListenToken
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	srv.SetLoggerV2(&natsLogger{log: j.log}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return errors.New("embedded nats: not ready after 30s")
	}
	j.srv = srv
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("auditstream"), nats.Token(j.opts.ListenToken))
	if err != nil {
		srv.Shutdown()
		return fmt.Errorf("connect embedded nats: %w", err)
	}
	j.nc = nc
	return nil
}

// setupRetryFor bounds how long a start retries creating the streams while
// the NATS cluster does not answer (a leader election after a server
// died, a restart in progress).
const setupRetryFor = 2 * time.Minute

// retryStart runs a step of Open (setting up the streams, reading the
// journal's tail) as RetryStart does.
func (j *Journal) retryStart(ctx context.Context, step func(context.Context) error) error {
	return RetryStart(ctx, j.log, "journal not open yet", step)
}

// RetryStart runs a start-up step against NATS (creating a stream or a
// bucket, a first write to it) again while its errors are the cluster's
// passing unavailability (Transient: a stream leader not elected yet)
// rather than an answer, for up to setupRetryFor:
// a node started during a NATS fault, or with the cluster, waits for it
// instead of exiting. Each retry is logged at WARN with what.
func RetryStart(ctx context.Context, log *slog.Logger, what string, step func(context.Context) error) error {
	deadline := time.Now().Add(setupRetryFor)
	for {
		err := step(ctx)
		if err == nil || !Transient(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		log.Warn(what+": NATS does not answer yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Transient says err is a JetStream request that got no answer (a
// timeout, no responders, no response from the stream: a leader not
// elected yet) rather than an answer refusing it.
func Transient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoStreamResponse)
}

func (j *Journal) setupStreams(ctx context.Context) error {
	maxBytes := partitionCap(j.opts.MaxBytes, len(j.parts))
	// Both streams refuse new messages at their cap (DiscardNew) rather
	// than delete old ones unseen: retention (stream.Retention) purges
	// events, knowing which log streams have delivered what; dead letters
	// stay until redriven or purged.
	for _, p := range j.parts {
		var err error
		p.stream, err = j.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        p.name,
			Description: j.streamDescription(p),
			Subjects:    p.Subjects(""),
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			MaxAge:      j.opts.MaxAge,
			MaxBytes:    maxBytes,
			Duplicates:  j.opts.DuplicateWindow,
			Replicas:    j.opts.Replicas,
			// Reads by sequence (the query engine, the writer confirming a
			// duplicate) skip the JSON API and its base64 body.
			AllowDirect: true,
		})
		if isInsufficientStorage(err) {
			return j.storageError(p.name, err)
		}
		if err != nil {
			return fmt.Errorf("create stream %s: %w", p.name, err)
		}
	}
	var err error
	j.dead, err = j.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DefaultDeadLetterStream,
		Description: "auditstream dead letters, one subject per log stream",
		Subjects:    []string{"deadletter.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxBytes:    max(j.opts.DeadLetterMaxBytes, -1),
		Discard:     jetstream.DiscardNew,
		Replicas:    j.opts.Replicas,
	})
	if isInsufficientStorage(err) {
		return j.storageError(DefaultDeadLetterStream, err)
	}
	if err != nil {
		return fmt.Errorf("create stream %s: %w", DefaultDeadLetterStream, err)
	}
	return nil
}

// JetStream exposes the JetStream context for packages that own consumers.
func (j *Journal) JetStream() jetstream.JetStream { return j.js }

// StreamName is the name of the events stream of partition 0 (the only
// one unless Options.Partitions; see StreamOf).
func (j *Journal) StreamName() string { return j.parts[0].name }

// streamNames are the events streams' names.
func (j *Journal) streamNames() []string {
	out := make([]string, len(j.parts))
	for i, p := range j.parts {
		out[i] = p.name
	}
	return out
}

// streamDescription describes a partition's stream.
func (j *Journal) streamDescription(p *Partition) string {
	if len(j.parts) == 1 {
		return "auditstream events"
	}
	return fmt.Sprintf("auditstream events, partition %d of %d", p.index, len(j.parts))
}

// partitionCap is each partition's share of journal.maxBytes (-1: none).
func partitionCap(maxBytes int64, n int) int64 {
	if maxBytes < 0 {
		return -1
	}
	return maxBytes / int64(n)
}

// Conn is the NATS connection.
func (j *Journal) Conn() *nats.Conn { return j.nc }

// Close drains the connection and stops the embedded server. It is safe to
// call more than once.
func (j *Journal) Close() {
	for _, p := range j.parts {
		if p.stopWriter != nil {
			p.stopWriter()
			<-p.writerDone
			p.stopWriter = nil
		}
	}
	if j.stop != nil {
		j.stop()
		<-j.done
		j.stop = nil
		// A clean shutdown records what the journal holds, so the next
		// start can tell a loss from retention.
		j.saveState(true)
	}
	if j.nc != nil && !j.nc.IsClosed() {
		if err := j.nc.Drain(); err != nil {
			j.nc.Close()
		}
		for i := 0; i < 100 && !j.nc.IsClosed(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		j.nc.Close()
	}
	if j.srv != nil {
		j.srv.Shutdown()
		j.srv.WaitForShutdown()
		j.srv = nil
	}
	j.lock.release()
}

// Info reports the events streams' message count and bytes (summed over
// the partitions).
func (j *Journal) Info(ctx context.Context) (msgs, bytes uint64, err error) {
	for _, p := range j.parts {
		info, err := p.stream.Info(ctx)
		if err != nil {
			return 0, 0, err
		}
		msgs += info.State.Msgs
		bytes += info.State.Bytes
	}
	return msgs, bytes, nil
}

func splitHostPort(hp string) (string, int, error) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("listen %q: want host:port", hp)
	}
	var port int
	if _, err := fmt.Sscanf(hp[i+1:], "%d", &port); err != nil {
		return "", 0, fmt.Errorf("listen %q: bad port", hp)
	}
	return hp[:i], port, nil
}

// natsLogger forwards the embedded server's log lines to slog.
type natsLogger struct{ log *slog.Logger }

// Noticef logs at INFO: NATS notices include what recovery did to the
// store ("will rebuild"), which an operator must be able to see.
func (l *natsLogger) Noticef(format string, v ...any) {
	l.log.Info(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *natsLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *natsLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *natsLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *natsLogger) Debugf(format string, v ...any) {}
func (l *natsLogger) Tracef(format string, v ...any) {}

// LastSeq is the sequence of the newest event in the journal (0 if
// empty); with several partitions, in partition 0 (see LastSeqOf).
func (j *Journal) LastSeq(ctx context.Context) (uint64, error) {
	return j.LastSeqOf(ctx, "")
}

// LastSeqOf is the stream sequence of the newest message in org's
// partition (0 if it is empty).
func (j *Journal) LastSeqOf(ctx context.Context, org string) (uint64, error) {
	info, err := j.PartitionFor(org).stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("journal info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Written is what the record batches this process stored came to: their
// bytes as encoded (the events' JSON and their index) and as stored,
// compressed (Options.Compression); the two are equal with CompressNone.
func (j *Journal) Written() (batches, stored uint64) {
	return j.written.batches.Load(), j.written.stored.Load()
}
