package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/pattern"
)

const patternUsage = `usage: auditstream pattern test --pattern <json|@file> --event <json|@file>

Tests an Amazon EventBridge event pattern against one event and prints true or false.
Each value may be given inline, as @path to read a file, or as @- to read stdin.

The event is either a full EventBridge event (it has "detail-type" or "detail"; then
id, account, source, time, region and detail-type are required, as in AWS's
TestEventPattern) or a bare Okta LogEvent, which is wrapped in auditstream's default
envelope: version "0", id = the event's uuid, detail-type "SystemLog", source
"auditstream.default" (what the service uses for the default org), account "000000000000", time = published truncated to whole seconds
(RFC 3339, UTC; 1970-01-01T00:00:00Z when absent or unparseable), region "us-east-1",
resources [], detail = the LogEvent.

Exit status: 0 when the test ran (whatever the result), 2 on a usage error, an invalid
pattern or an invalid event.
`

// Default envelope values for a bare LogEvent given to "pattern test".
const (
	defaultEnvVersion    = "0"
	defaultEnvDetailType = "SystemLog"
	defaultEnvSource     = "auditstream.default"
	defaultEnvAccount    = "000000000000"
	defaultEnvRegion     = "us-east-1"
	defaultEnvTime       = "1970-01-01T00:00:00Z"
)

// runPattern implements "auditstream pattern ...". args are the arguments after
// "pattern". It returns the process exit status.
func runPattern(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help") {
		fmt.Fprint(stdout, patternUsage)
		return 0
	}
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprint(stderr, patternUsage)
		return 2
	}
	fs := flag.NewFlagSet("auditstream pattern test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	patArg := fs.String("pattern", "", "event pattern JSON, @file or @-")
	evArg := fs.String("event", "", "event JSON, @file or @-")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, patternUsage)
			return 0
		}
		fmt.Fprintf(stderr, "auditstream pattern test: %v\n\n%s", err, patternUsage)
		return 2
	}
	if fs.NArg() > 0 || *patArg == "" || *evArg == "" {
		fmt.Fprint(stderr, patternUsage)
		return 2
	}
	patText, err := readArg(*patArg, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "auditstream pattern test: read pattern: %v\n", err)
		return 2
	}
	evText, err := readArg(*evArg, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "auditstream pattern test: read event: %v\n", err)
		return 2
	}
	p, err := pattern.Compile(patText)
	if err != nil {
		var perr *pattern.Error
		if errors.As(err, &perr) && perr.Line > 0 {
			fmt.Fprintf(stderr, "%v (line %d, column %d)\n", err, perr.Line, perr.Column)
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 2
	}
	env, full, err := eventForTest(evText)
	if err != nil {
		fmt.Fprintf(stderr, "auditstream pattern test: invalid event: %v\n", err)
		return 2
	}
	var ok bool
	if full {
		ok = p.Match(evText)
	} else {
		ok = p.MatchEnvelope(env)
	}
	fmt.Fprintln(stdout, ok)
	return 0
}

// readArg returns an argument's text: inline, @path or @- for stdin.
func readArg(arg string, stdin io.Reader) ([]byte, error) {
	switch {
	case arg == "@-":
		return io.ReadAll(stdin)
	case strings.HasPrefix(arg, "@"):
		return os.ReadFile(arg[1:])
	}
	return []byte(arg), nil
}

// eventForTest checks the event and tells whether it is a full EventBridge event
// (full is true; match its JSON as it is) or a bare LogEvent wrapped in env.
func eventForTest(text []byte) (env *pattern.Envelope, full bool, err error) {
	var members map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(&members); err != nil || members == nil {
		return nil, false, errors.New("not a JSON object")
	}
	if dec.More() {
		return nil, false, errors.New("unexpected data after the JSON object")
	}
	_, hasDT := members["detail-type"]
	_, hasDetail := members["detail"]
	if hasDT || hasDetail {
		for _, k := range []string{"id", "account", "source", "time", "region", "detail-type"} {
			if _, ok := members[k]; !ok {
				return nil, false, fmt.Errorf("EventBridge event without %q", k)
			}
		}
		return nil, true, nil
	}
	var head struct {
		UUID      any `json:"uuid"`
		Published any `json:"published"`
	}
	_ = json.Unmarshal(text, &head) // already known to be an object
	id, _ := head.UUID.(string)
	ts := defaultEnvTime
	if s, ok := head.Published.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			ts = t.UTC().Truncate(time.Second).Format(time.RFC3339)
		}
	}
	return &pattern.Envelope{
		Version: defaultEnvVersion, ID: id, DetailType: defaultEnvDetailType,
		Source: defaultEnvSource, Account: defaultEnvAccount, Time: ts,
		Region: defaultEnvRegion, Resources: []string{}, Detail: text,
	}, false, nil
}
