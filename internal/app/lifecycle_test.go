package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestLifecycleOrder checks the lifecycle's contract: runs start in list
// order, stops run in reverse, each item's stop comes before its run's
// context ends, and a run that outlives the deadline is reported without
// keeping the items before it from stopping.
func TestLifecycleOrder(t *testing.T) {
	var mu sync.Mutex
	var got []string
	note := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
	item := func(name string) component {
		started := make(chan struct{})
		return component{name: name,
			run: func(ctx context.Context) error {
				note("run " + name)
				close(started)
				<-ctx.Done()
				note("ended " + name)
				return nil
			},
			stop: func(context.Context) error { note("stop " + name); return nil }}
	}
	stuck := component{name: "stuck", run: func(ctx context.Context) error { select {} }}
	closed := component{name: "journal", stop: func(context.Context) error { note("close journal"); return nil }}
	l := newLifecycle(slog.New(slog.DiscardHandler), closed, stuck, item("a"), item("b"))
	l.start(t.Context())
	// Each run notes itself once it runs; wait for both.
	wait.Eventually(t, "run a and run b", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	}, wait.Within(5*time.Second))
	mu.Lock()
	starts := append([]string(nil), got...)
	got = nil
	mu.Unlock()
	if len(starts) != 2 {
		t.Fatalf("started: got %v, want run a and run b", starts)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := l.stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "stuck: did not stop before the shutdown deadline") {
		t.Fatalf("stop: got %v, want stuck reported past the deadline", err)
	}
	want := []string{"stop b", "ended b", "stop a", "ended a", "close journal"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stop order: got %v, want %v", got, want)
	}
}

// TestLifecycleEarlyExit checks that a run failing on its own is reported
// on exited, and that a stop without a start still stops every item.
func TestLifecycleEarlyExit(t *testing.T) {
	boom := errors.New("boom")
	l := newLifecycle(slog.New(slog.DiscardHandler), component{name: "http", run: func(context.Context) error { return boom }})
	l.start(t.Context())
	select {
	case err := <-l.exited:
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "http: ") {
			t.Fatalf("exited: got %v, want http: boom", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("exited: got nothing, want the run's error")
	}

	stopped := false
	never := newLifecycle(slog.New(slog.DiscardHandler), component{name: "journal", stop: func(context.Context) error { stopped = true; return nil }},
		component{name: "streams", run: func(ctx context.Context) error { <-ctx.Done(); return nil }})
	if err := never.stop(t.Context()); err != nil || !stopped {
		t.Fatalf("stop before start: got err %v, stopped %v, want nil and true", err, stopped)
	}
}

// TestConfigStreamSettingsCheckedAtStart checks that a config-file stream
// with settings its type refuses fails the start, like a bad config-file
// source, before the journal is touched.
func TestConfigStreamSettingsCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Streams = []config.Stream{{Declared: config.Declared{ID: "hook", Name: "hook", Type: "http",
		Settings: map[string]any{"url": "http://127.0.0.1:9/x", "unknownSetting": true}}}}
	// Were the settings accepted, Run would serve until this deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := Run(ctx, cfg, Options{}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "stream hook") || !strings.Contains(err.Error(), "unknownSetting") {
		t.Fatalf("start with bad stream settings: got %v, want an error naming stream hook and unknownSetting", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("data dir after the failed start: got %d entries, want none (journal untouched)", len(entries))
	}
}
