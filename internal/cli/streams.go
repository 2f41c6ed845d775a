package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/auditstream/auditstream/internal/client"
)

// Output formats.
const (
	outputJSON  = "json"
	outputTable = "table"
)

// streamsCmd is the streams command: its flags and verbs.
var streamsCmd = resCmd{
	name:        "streams",
	noun:        "stream",
	outputUsage: "output `format`: json or table (default table, json for get)",
	flags: []flagDef{
		{name: "file", short: "f", usage: "apply: the `FILE` of streams, - for stdin"},
		{name: "since", usage: "replay: RFC 3339 `time`, date (2006-01-02) or duration ago (90m)"},
	},
	verbs: []resVerb{
		{name: "list", output: outputTable, run: listVerb((*client.Client).ListStreams, printStreams), help: "list the log streams"},
		{name: "get", args: " ID", takesID: true, output: outputJSON, run: oneVerb((*client.Client).GetStream, printStreams), help: "show one stream"},
		{name: "apply", args: " -f FILE", flags: []string{"file"}, check: needsFile, output: outputTable, run: runApply, help: "create or update the streams in FILE (YAML or JSON, - for stdin) by name"},
		{name: "delete", args: " ID", takesID: true, output: outputTable, run: deleteVerb((*client.Client).DeleteStream, "deleted"), help: "delete a stream"},
		{name: "activate", args: " ID", takesID: true, output: outputTable, run: oneVerb((*client.Client).Activate, printStreamState), help: "start delivery"},
		{name: "deactivate", args: " ID", takesID: true, output: outputTable, run: oneVerb((*client.Client).Deactivate, printStreamState), help: "stop delivery (the position is kept)"},
		{name: "status", args: " ID", takesID: true, output: outputTable, run: oneVerb((*client.Client).Status, printStatus), help: "show delivery state, counters and lag"},
		{name: "replay", args: " ID --since T", takesID: true, flags: []string{"since"}, check: needsSince, output: outputTable, run: runReplay, help: "deliver again every event since --since"},
		{name: "deadletters", args: " ID", takesID: true, output: outputTable, run: runDeadLetters, help: "list events the stream gave up on"},
		{name: "redrive", args: " ID", takesID: true, output: outputTable, run: runRedrive, help: "hand the dead letters back to the stream"},
	},
	notes: `apply reads one stream, a list of streams, or a mapping with a "streams:" list;
each stream has name, type, settings, and optionally filter (an EventBridge
event pattern) and status (ACTIVE or INACTIVE). A stream whose name exists is
replaced, any other is created.
`,
}

// Streams is `auditstream streams VERB [ID] [flags]`, managing log streams;
// see its usage text for the verbs.
func Streams(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	return streamsCmd.run(ctx, args, stdin, stdout, stderr, env)
}

// needsFile checks that apply was given a file.
func needsFile(inv *resInv) error {
	if inv.file == "" {
		return errors.New("streams apply needs -f FILE")
	}
	return nil
}

// needsSince checks and reads replay's --since.
func needsSince(inv *resInv) error {
	if inv.sinceArg == "" {
		return errors.New("streams replay needs --since")
	}
	t, err := parseSince(inv.sinceArg, time.Now())
	if err != nil {
		return err
	}
	inv.since = t
	return nil
}

// parseSince reads an RFC 3339 time, a date (midnight UTC) or a duration
// meaning that long before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time, a date or a duration ago", s)
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printStreams prints streams as a table.
var printStreams = table("ID\tNAME\tTYPE\tSTATUS\tCREATED", func(s client.Stream) []string {
	return []string{s.ID, s.Name, s.Type, dash(s.Status), fmtTime(s.Created.Time)}
})

// printStreamState prints the line activate and deactivate answer with.
var printStreamState = stateLines(func(s client.Stream) (id, name, status string) { return s.ID, s.Name, s.Status })

// printStatus prints a stream's status as NAME VALUE rows.
func printStatus(w io.Writer, sts []client.StreamStatus) error {
	for _, st := range sts {
		rows := [][]string{
			{"ID", st.ID},
			{"STATE", string(st.State)},
			{"DELIVERED", fmt.Sprint(st.Delivered)},
			{"FAILED", fmt.Sprint(st.Failed)},
			{"RETRIED", fmt.Sprint(st.Retried)},
			{"DEAD LETTERED", fmt.Sprint(st.DeadLettered)},
			{"LAG EVENTS", fmt.Sprint(st.LagEvents)},
			{"LAG", (time.Duration(st.LagSeconds * float64(time.Second))).Round(time.Millisecond).String()},
			{"LAST SUCCESS", fmtTime(st.LastSuccessAt)},
			{"LAST ERROR", dash(st.LastError)},
			{"LAST ERROR AT", fmtTime(st.LastErrorAt)},
		}
		if err := table("", func(r []string) []string { return r })(w, rows); err != nil {
			return err
		}
	}
	return nil
}

// printDeadLetters prints dead letters as a table.
var printDeadLetters = table("SEQ\tUUID\tAT\tREASON", func(d client.DeadLetter) []string {
	return []string{fmt.Sprint(d.Seq), d.UUID, fmtTime(d.At), dash(d.Reason)}
})

func runDeadLetters(ctx context.Context, c *client.Client, inv resInv) error {
	dl, err := c.DeadLetters(ctx, inv.id)
	if err != nil {
		return err
	}
	return printAll(inv, dl, printDeadLetters)
}

func runReplay(ctx context.Context, c *client.Client, inv resInv) error {
	if err := c.Replay(ctx, inv.id, inv.since); err != nil {
		return err
	}
	since := inv.since.UTC().Format(time.RFC3339Nano)
	if inv.output == outputJSON {
		return printJSON(inv.stdout, map[string]string{"id": inv.id, "since": since})
	}
	_, err := fmt.Fprintf(inv.stdout, "replaying %s from %s\n", inv.id, since)
	return err
}

func runRedrive(ctx context.Context, c *client.Client, inv resInv) error {
	n, err := c.Redrive(ctx, inv.id)
	if err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, map[string]int{"redriven": n})
	}
	_, err = fmt.Fprintf(inv.stdout, "redriven %d\n", n)
	return err
}
