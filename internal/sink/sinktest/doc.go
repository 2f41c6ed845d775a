// Package sinktest is the conformance battery every destination runs, plus
// the fakes and record generators the battery and destination tests share.
//
// A destination's test calls Run with a Harness: a constructor that starts a
// fresh fake destination and a sink pointed at it, the destination's own
// per-request limits, and the scenarios it cannot support (with the reason,
// which becomes the t.Skip message). The fake is told how to answer
// (accept, fail retryably or permanently, throttle with Retry-After in either
// form, pause, hang, be unreachable) and reports what it received.
//
// Run checks the contract of sink.Sink as the runner relies on it: a batch
// is delivered exactly and in order; batches built from Limits and
// EncodedSize never exceed what the destination accepts per request; every
// failure is classified right by sink.ClassOf and carries Retry-After;
// response bodies are drained so connections are reused; a cancelled ctx
// ends Write promptly; Verify delivers nothing and fails when the
// destination is down; Close may be called twice and leaves no goroutine.
//
// For HTTP destinations HTTPFake is a ready fake: give it a DecodeFunc that
// turns a request into records and, if the destination signals outcomes
// differently, its own Responses.
//
// Run's leak check compares goroutines before and after each scenario, so
// the battery must not run in parallel with other tests of the package.
package sinktest
