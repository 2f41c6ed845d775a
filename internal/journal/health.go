package journal

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/health"
)

// Conditions the journal sets on Options.Health.
const (
	// ConditionAppend is NotReady while appends fail.
	ConditionAppend = "journal.append"
	// ConditionLost is Degraded after events recorded as stored were found
	// missing at start, until AcknowledgeLost.
	ConditionLost = "journal.lost"
	// ConditionSizing is Degraded when the configured caps exceed the
	// disk.
	ConditionSizing = "journal.sizing"
)

const (
	// monitorInterval is how often the journal checks its store while it
	// runs (and records its state, see state.go).
	monitorInterval = time.Second
	// restartBackoff spaces restarts of the embedded JetStream; it doubles
	// (up to maxRestartBackoff) while restarts do not hold, so a broken
	// disk does not restart JetStream every few seconds forever.
	restartBackoff    = 3 * time.Second
	maxRestartBackoff = time.Minute
	// minRestartFree is the free space needed before JetStream is
	// restarted after a write error: restarting onto a disk that is still
	// full only fails again.
	minRestartFree = 8 << 20
	// probeKey is written to the status bucket to find out whether the
	// store takes writes again after an append failed.
	probeKey = "journal.probe"
)

// appendHealth tracks whether appends work. Two things make them fail: a
// store error JetStream latched (a write error, JetStream disabled), found
// by diagnose, during which Append fails at once; and the last Append's
// failure, which clears on the next success or a successful probe.
type appendHealth struct {
	mu          sync.Mutex
	latched     string
	failing     string
	full        bool
	lastRestart time.Time
	backoff     time.Duration
	lastProbe   time.Time
	probeKV     jetstream.KeyValue
	kick        chan struct{}
}

// fastFail returns the latched error, if any.
func (h *appendHealth) fastFail() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.latched == "" {
		return "", false
	}
	return "the journal's store is failing: " + h.latched, h.full
}

func (h *appendHealth) appendOK(j *Journal) {
	h.mu.Lock()
	was := h.failing
	h.failing = ""
	h.mu.Unlock()
	if was != "" {
		j.updateCondition()
	}
}

func (h *appendHealth) appendFailed(j *Journal, reason string, full bool) {
	h.mu.Lock()
	first := h.failing == "" && h.latched == ""
	h.failing, h.full = reason, full || h.full
	h.mu.Unlock()
	if first {
		j.log.Warn("journal appends fail; ingest answers 503/507 until the store takes writes again", "err", reason, "full", full)
	}
	j.updateCondition()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// updateCondition sets or clears ConditionAppend from the state.
func (j *Journal) updateCondition() {
	h := &j.health
	h.mu.Lock()
	reason, full := h.latched, h.full
	if reason == "" {
		reason = h.failing
	}
	if reason == "" {
		h.full = false
	}
	h.mu.Unlock()
	if reason == "" {
		j.opts.Health.Clear(ConditionAppend)
		return
	}
	// /readyz is public: the message says what is wrong and what to do,
	// the log has the details (paths, errors).
	msg := "appends to the journal fail (details in the log); it retries by itself"
	if full {
		msg = "the journal's disk or store is full and appends fail; free disk space and the journal recovers by itself within seconds"
	}
	j.opts.Health.Set(ConditionAppend, health.NotReady, msg)
}

// diagnose returns the store error the embedded JetStream latched, if any:
// JetStream disabled, or a stream or consumer write error. After a write
// error (ENOSPC, EIO) nats-server stops answering writes to that stream
// for good, without replying to the publisher; only a restart of
// JetStream clears it. An external server reports nothing here.
func (j *Journal) diagnose() string {
	if j.srv == nil {
		return ""
	}
	if !j.srv.JetStreamEnabled() {
		return "JetStream is disabled"
	}
	hs := j.srv.Healthz(&server.HealthzOptions{Details: true})
	if hs == nil {
		return ""
	}
	for _, e := range hs.Errors {
		if strings.Contains(e.Error, "write error") || strings.Contains(e.Error, "no space left") {
			return e.Error
		}
	}
	return ""
}

func (j *Journal) startMonitor() {
	ctx, cancel := context.WithCancel(context.Background())
	j.stop, j.done = cancel, make(chan struct{})
	j.health.kick = make(chan struct{}, 1)
	go func() {
		defer close(j.done)
		t := time.NewTicker(monitorInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-j.health.kick:
			}
			j.checkHealth(ctx)
			j.saveState(false)
		}
	}()
}

// checkHealth looks for a latched store error, restarts the embedded
// JetStream to clear it once there is space again, and probes the store
// while appends fail.
func (j *Journal) checkHealth(ctx context.Context) {
	h := &j.health
	if latched := j.diagnose(); latched != "" {
		h.mu.Lock()
		first := h.latched == ""
		h.latched = latched
		h.full = h.full || strings.Contains(latched, "no space left")
		h.mu.Unlock()
		if first {
			j.log.Error("journal store failed; appends fail at once until it is restarted", "err", latched)
		}
		j.updateCondition()
		if !j.restartJetStream(latched) || j.diagnose() != "" {
			return
		}
	}
	h.mu.Lock()
	wasLatched := h.latched != ""
	h.latched = ""
	failing := h.failing != ""
	probeDue := failing && time.Since(h.lastProbe) >= monitorInterval
	if probeDue {
		h.lastProbe = time.Now()
	}
	h.mu.Unlock()
	if probeDue {
		if err := j.probe(ctx); err == nil {
			h.mu.Lock()
			h.failing = ""
			h.mu.Unlock()
			j.log.Info("journal appends work again")
		}
	} else if wasLatched && !failing {
		j.log.Info("journal appends work again")
	}
	j.updateCondition()
}

// restartJetStream restarts the embedded JetStream, which reopens every
// stream's files and so clears a latched write error, when enough time
// passed since the last try and the disk has room. It reports whether it
// restarted.
func (j *Journal) restartJetStream(cause string) bool {
	h := &j.health
	if h.backoff == 0 {
		h.backoff = restartBackoff
	}
	since := time.Since(h.lastRestart)
	if since < h.backoff {
		return false
	}
	if !h.lastRestart.IsZero() && since < 2*maxRestartBackoff {
		// The last restart did not hold for long: wait longer next time.
		h.backoff = min(2*h.backoff, maxRestartBackoff)
	} else {
		h.backoff = restartBackoff
	}
	free, _, err := j.opts.DiskSpace(j.storeDir)
	if err != nil || free < minRestartFree {
		return false
	}
	h.lastRestart = time.Now()
	j.log.Warn("restarting the embedded JetStream to clear a store error", "err", cause, "free", human(int64(free)))
	if err := j.srv.ShutdownJetStream(); err != nil {
		j.log.Error("stop JetStream", "err", err)
	}
	cfg := j.jsConfig // EnableJetStream changes the config it is given
	if err := j.srv.EnableJetStream(&cfg); err != nil {
		j.log.Error("restart JetStream", "err", err)
		return false
	}
	// Consumers' pending pulls died with the old JetStream; a reconnect
	// makes every pull consumer pull again at once instead of after its
	// missed heartbeats (tens of seconds).
	if err := j.nc.ForceReconnect(); err == nil {
		for i := 0; i < 200 && !j.nc.IsConnected(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := j.newPublisher(); err != nil {
		j.log.Error("renew the publisher", "err", err)
	}
	return true
}

// probe writes to the status bucket: whether the store takes writes.
func (j *Journal) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h := &j.health
	if h.probeKV == nil {
		kv, err := j.KV(ctx, BucketStatus)
		if err != nil {
			return err
		}
		h.probeKV = kv
	}
	_, err := h.probeKV.Put(ctx, probeKey, fmt.Appendf(nil, `{"at":%q}`, time.Now().UTC().Format(time.RFC3339Nano)))
	return err
}
