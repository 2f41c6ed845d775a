// Package wait polls a condition in tests until it holds, for results
// another goroutine or process produces (a KV watch, a runner, a server).
//
// Inside a testing/synctest bubble the polling sleeps on the bubble's
// fake clock, so a wait costs no real time there.
package wait

import (
	"testing"
	"time"
)

// Defaults for Eventually. The timeout is generous because the tests run
// on loaded machines; a condition that holds returns at its first true.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultInterval = 10 * time.Millisecond
)

// Option changes how Eventually and Never poll.
type Option func(*poll)

type poll struct {
	timeout, interval time.Duration
	seen              func() string
}

// Within sets how long to wait (DefaultTimeout without it).
func Within(d time.Duration) Option { return func(p *poll) { p.timeout = d } }

// Every sets the pause between two checks (DefaultInterval without it),
// for conditions that are costly to check, such as an HTTP request.
func Every(d time.Duration) Option { return func(p *poll) { p.interval = d } }

// Seen describes what was seen instead, for the failure message.
func Seen(describe func() string) Option { return func(p *poll) { p.seen = describe } }

func options(opts []Option) poll {
	p := poll{timeout: DefaultTimeout, interval: DefaultInterval}
	for _, o := range opts {
		o(&p)
	}
	return p
}

// Eventually checks cond until it holds and fails t (t.Fatalf) if it does
// not within the timeout. what names the awaited condition in the
// message. Call it from the test's goroutine.
func Eventually(t testing.TB, what string, cond func() bool, opts ...Option) {
	t.Helper()
	p := options(opts)
	deadline := time.Now().Add(p.timeout)
	for !cond() {
		if time.Now().After(deadline) {
			if p.seen != nil {
				t.Fatalf("timed out after %v waiting for %s; got %s", p.timeout, what, p.seen())
			}
			t.Fatalf("timed out after %v waiting for %s", p.timeout, what)
		}
		time.Sleep(p.interval)
	}
}

// Never checks cond for d and fails t as soon as it holds: the check
// that something does not happen (a retry, a second delivery).
func Never(t testing.TB, what string, d time.Duration, cond func() bool, opts ...Option) {
	t.Helper()
	p := options(opts)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(p.interval) {
		if cond() {
			t.Fatalf("got %s, want it not to happen", what)
		}
	}
}
