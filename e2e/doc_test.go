// Package e2e drives the real auditstream binary over loopback: it builds
// the binary once, starts it with fresh data directories, and checks what
// real receivers (webhooks, protocol fakes, versitygw) get.
package e2e
