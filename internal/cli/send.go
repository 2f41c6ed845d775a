package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// Send is `auditstream send [--server URL] [--token T] [FILE|-]`: it posts
// the NDJSON events in FILE, or stdin when FILE is "-" or absent, to the
// server and prints "accepted N, duplicates M". An input without events is
// an error (exit 1).
func Send(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	fs, c := newClientFlags("send", env)
	usage := func(w io.Writer) {
		fmt.Fprint(w, `usage: auditstream send [--server URL] [--token TOKEN] [FILE|-]

Posts newline-delimited JSON audit events from FILE (stdin when FILE is - or
absent) to POST /api/v1/events, in gzip-compressed requests of at most 5 MiB
or 10000 events. Blank lines are skipped. Requests that meet a rate limit or
a connection error are retried; the server drops events whose uuid it has.
It prints "accepted N, duplicates M"; an input without events is an error.

flags:
`)
		printDefaults(w, fs)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if len(pos) > 1 {
		return usageError(fmt.Errorf("send takes one FILE, got %d arguments", len(pos)), stdout, stderr, usage)
	}
	cl, err := c.client()
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}

	in, name := stdin, "stdin"
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "auditstream: %v\n", err)
			return exitError
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	seen := &contentSeen{r: in}
	res, err := cl.SendNDJSON(ctx, seen)
	if err == nil && !seen.any {
		// Most often a pipe whose first command failed: say so rather
		// than report success.
		fmt.Fprintf(stderr, "auditstream: send: no events: %s is empty (or only blank lines)\n", name)
		return exitError
	}
	if err != nil {
		if res.Accepted > 0 || res.Duplicates > 0 {
			fmt.Fprintf(stderr, "auditstream: before the error: accepted %d, duplicates %d\n", res.Accepted, res.Duplicates)
		}
		fmt.Fprintf(stderr, "auditstream: send: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "accepted %d, duplicates %d\n", res.Accepted, res.Duplicates)
	return exitOK
}

// contentSeen passes reads through and records whether anything but white
// space went by.
type contentSeen struct {
	r   io.Reader
	any bool
}

func (c *contentSeen) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.any && len(bytes.TrimSpace(p[:n])) > 0 {
		c.any = true
	}
	return n, err
}
