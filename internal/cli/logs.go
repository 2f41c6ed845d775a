package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditstream/auditstream/internal/client"
)

// Logs is `auditstream logs query|tail [flags]`: it reads the System Log
// (GET /api/v1/logs). query prints the events of a time range and ends;
// tail follows new events like an Okta poller until interrupted. Output is
// one JSON event per line (json) or a table.
func Logs(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	fs, c := newClientFlags("logs", env)
	var (
		since, until      string
		filter, q, output string
		limit             int
		desc              bool
		interval          time.Duration
	)
	fs.StringVar(&since, "since", "", "start: RFC 3339 `time`, date (2006-01-02) or duration ago (90m)\n(query default: 7 days before until; tail default: now)")
	fs.StringVar(&until, "until", "", "query: end, same forms as --since (default now)")
	fs.StringVar(&filter, "filter", "", "Okta filter `expression`, e.g. 'eventType eq \"user.session.start\"'")
	fs.StringVar(&q, "q", "", "keyword search: every `keyword` must match (at most 10)")
	fs.IntVar(&limit, "limit", 1000, "events per request (1 to 1000)")
	fs.BoolVar(&desc, "desc", false, "query: newest first")
	fs.DurationVar(&interval, "interval", client.DefaultPollInterval, "tail: wait this long after a short page")
	fs.StringVar(&output, "output", outputTable, "output `format`: json (one event per line) or table")
	fs.StringVar(&output, "o", outputTable, "shorthand for --output")
	usage := func(w io.Writer) {
		fmt.Fprint(w, `usage: auditstream logs query [--since T] [--until T] [--filter F] [--q WORDS] [--desc]
       auditstream logs tail  [--since T] [--filter F] [--q WORDS] [--interval D]

query prints the events published in [since, until) in published order and
ends; tail follows the journal like an Okta System Log poller and prints
events as they arrive, until interrupted.

flags:
`)
		printDefaults(w, fs)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if len(pos) != 1 || pos[0] != "query" && pos[0] != "tail" {
		return usageError(errors.New("logs needs query or tail"), stdout, stderr, usage)
	}
	verb := pos[0]
	now := time.Now()
	lq := client.LogQuery{Filter: filter, Q: q, Limit: limit, Descending: desc}
	if limit < 1 || limit > 1000 {
		return usageError(fmt.Errorf("--limit %d: want 1 to 1000", limit), stdout, stderr, usage)
	}
	if output != outputJSON && output != outputTable {
		return usageError(fmt.Errorf("--output %q: want json or table", output), stdout, stderr, usage)
	}
	if since != "" {
		if lq.Since, err = parseSince(since, now); err != nil {
			return usageError(err, stdout, stderr, usage)
		}
	}
	switch verb {
	case "query":
		lq.Until = now
		if until != "" {
			t, err := parseSince(until, now)
			if err != nil {
				return usageError(errors.New(strings.Replace(err.Error(), "--since", "--until", 1)), stdout, stderr, usage)
			}
			lq.Until = t
		}
	case "tail":
		if until != "" || desc {
			return usageError(errors.New("logs tail does not take --until or --desc"), stdout, stderr, usage)
		}
		if lq.Since.IsZero() {
			lq.Since = now
		}
	}
	cl, err := c.client()
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	p := newEventPrinter(stdout, output)
	if verb == "query" {
		err = cl.QueryLogs(ctx, lq, p.print)
	} else {
		err = cl.TailLogs(ctx, lq, interval, p.print)
	}
	if ferr := p.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "auditstream: logs %s: %v\n", verb, err)
		return exitError
	}
	return exitOK
}

// eventPrinter writes events as JSON lines or table rows, page by page.
type eventPrinter struct {
	w      io.Writer
	format string
	tw     *tabwriter.Writer
}

func newEventPrinter(w io.Writer, format string) *eventPrinter {
	p := &eventPrinter{w: w, format: format}
	if format == outputTable {
		p.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.tw, "PUBLISHED\tEVENT TYPE\tACTOR\tOUTCOME\tMESSAGE")
	}
	return p
}

// tableEvent is what the table shows of an event.
type tableEvent struct {
	Published      string `json:"published"`
	EventType      string `json:"eventType"`
	DisplayMessage string `json:"displayMessage"`
	Actor          struct {
		AlternateID string `json:"alternateId"`
	} `json:"actor"`
	Outcome struct {
		Result string `json:"result"`
	} `json:"outcome"`
}

func (p *eventPrinter) print(events []json.RawMessage) error {
	if p.format == outputJSON {
		for _, e := range events {
			if _, err := fmt.Fprintf(p.w, "%s\n", e); err != nil {
				return err
			}
		}
		return nil
	}
	for _, raw := range events {
		var e tableEvent
		_ = json.Unmarshal(raw, &e)
		fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\n", dash(e.Published), dash(e.EventType), dash(e.Actor.AlternateID),
			dash(e.Outcome.Result), dash(oneLine(e.DisplayMessage)))
	}
	// Flush per page so tail shows events as they come.
	return p.tw.Flush()
}

func (p *eventPrinter) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
