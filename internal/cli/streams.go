package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditstream/auditstream/internal/client"
)

// Output formats.
const (
	outputJSON  = "json"
	outputTable = "table"
)

// streamsInv is one parsed invocation of a streams verb.
type streamsInv struct {
	id     string
	output string
	file   string
	since  time.Time
	stdin  io.Reader
	stdout io.Writer
}

// streamsVerb describes one verb of the streams command.
type streamsVerb struct {
	// takesID is true for verbs acting on one stream.
	takesID bool
	// flags are the verb-specific flags it accepts.
	flags []string
	// output is the default output format.
	output string
	run    func(ctx context.Context, c *client.Client, inv streamsInv) error
	help   string
}

// streamsVerbs is the table of streams verbs, in usage order.
var streamsVerbs = []struct {
	name string
	streamsVerb
}{
	{"list", streamsVerb{output: outputTable, run: runList, help: "list the log streams"}},
	{"get", streamsVerb{takesID: true, output: outputJSON, run: runGet, help: "show one stream"}},
	{"apply", streamsVerb{flags: []string{"f", "file"}, output: outputTable, run: runApply, help: "create or update the streams in FILE (YAML or JSON, - for stdin) by name"}},
	{"delete", streamsVerb{takesID: true, output: outputTable, run: runDelete, help: "delete a stream"}},
	{"activate", streamsVerb{takesID: true, output: outputTable, run: runLifecycle(true), help: "start delivery"}},
	{"deactivate", streamsVerb{takesID: true, output: outputTable, run: runLifecycle(false), help: "stop delivery (the position is kept)"}},
	{"status", streamsVerb{takesID: true, output: outputTable, run: runStatus, help: "show delivery state, counters and lag"}},
	{"replay", streamsVerb{takesID: true, flags: []string{"since"}, output: outputTable, run: runReplay, help: "deliver again every event since --since"}},
	{"deadletters", streamsVerb{takesID: true, output: outputTable, run: runDeadLetters, help: "list events the stream gave up on"}},
	{"redrive", streamsVerb{takesID: true, output: outputTable, run: runRedrive, help: "hand the dead letters back to the stream"}},
}

func lookupVerb(name string) (streamsVerb, bool) {
	for _, v := range streamsVerbs {
		if v.name == name {
			return v.streamsVerb, true
		}
	}
	return streamsVerb{}, false
}

// Streams is `auditstream streams VERB [ID] [flags]`, managing log streams;
// see its usage text for the verbs.
func Streams(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	env = orEmpty(env)
	fs := newFlagSet("streams")
	var (
		c      conn
		output string
		file   string
		since  string
	)
	c.register(fs, env)
	fs.StringVar(&output, "output", "", "output `format`: json or table (default table, json for get)")
	fs.StringVar(&output, "o", "", "shorthand for --output")
	fs.StringVar(&file, "file", "", "apply: the `FILE` of streams, - for stdin")
	fs.StringVar(&file, "f", "", "shorthand for --file")
	fs.StringVar(&since, "since", "", "replay: RFC 3339 `time`, date (2006-01-02) or duration ago (90m)")
	usage := func(w io.Writer) { streamsUsage(w, fs) }

	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if len(pos) == 0 {
		return usageError(errors.New("streams needs a verb"), stdout, stderr, usage)
	}
	name := pos[0]
	verb, ok := lookupVerb(name)
	if !ok {
		return usageError(fmt.Errorf("unknown streams verb %q", name), stdout, stderr, usage)
	}
	inv := streamsInv{output: output, file: file, stdin: stdin, stdout: stdout}
	if err := checkStreamsArgs(fs, name, verb, pos[1:], &inv, since); err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	cl, err := c.client(env)
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if err := verb.run(ctx, cl, inv); err != nil {
		fmt.Fprintf(stderr, "auditstream: streams %s: %v\n", name, err)
		return exitError
	}
	return exitOK
}

// checkStreamsArgs validates the positional arguments and flags of verb
// and fills inv.
func checkStreamsArgs(fs *flag.FlagSet, name string, verb streamsVerb, args []string, inv *streamsInv, since string) error {
	switch {
	case verb.takesID && len(args) != 1:
		return fmt.Errorf("streams %s takes one stream ID, got %d arguments", name, len(args))
	case !verb.takesID && len(args) != 0:
		return fmt.Errorf("streams %s takes no arguments, got %q", name, args)
	}
	if verb.takesID {
		if args[0] == "" {
			return fmt.Errorf("streams %s: empty stream ID", name)
		}
		inv.id = args[0]
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "server", "token", "output", "o":
		default:
			if !slices.Contains(verb.flags, f.Name) {
				bad = append(bad, flagName(f.Name))
			}
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("streams %s does not take %s", name, strings.Join(bad, ", "))
	}
	switch inv.output {
	case "":
		inv.output = verb.output
	case outputJSON, outputTable:
	default:
		return fmt.Errorf("--output %q: want json or table", inv.output)
	}
	if name == "apply" && inv.file == "" {
		return errors.New("streams apply needs -f FILE")
	}
	if name == "replay" {
		if since == "" {
			return errors.New("streams replay needs --since")
		}
		t, err := parseSince(since, time.Now())
		if err != nil {
			return err
		}
		inv.since = t
	}
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

func streamsUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: auditstream streams VERB [ID] [flags]

verbs:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range streamsVerbs {
		arg := ""
		switch {
		case v.takesID && v.name == "replay":
			arg = " ID --since T"
		case v.takesID:
			arg = " ID"
		case v.name == "apply":
			arg = " -f FILE"
		}
		fmt.Fprintf(tw, "  %s%s\t%s\n", v.name, arg, v.help)
	}
	_ = tw.Flush()
	fmt.Fprint(w, `
apply reads one stream, a list of streams, or a mapping with a "streams:" list;
each stream has name, type, settings, and optionally filter (an EventBridge
event pattern) and status (ACTIVE or INACTIVE). A stream whose name exists is
replaced, any other is created.

flags:
`)
	printDefaults(w, fs)
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

func printStreams(w io.Writer, streams []client.Stream) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tSTATUS\tCREATED")
	for _, s := range streams {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, s.Type, dash(s.Status), fmtTime(s.Created))
	}
	return tw.Flush()
}

func runList(ctx context.Context, c *client.Client, inv streamsInv) error {
	streams, err := c.ListStreams(ctx)
	if err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, streams)
	}
	return printStreams(inv.stdout, streams)
}

func runGet(ctx context.Context, c *client.Client, inv streamsInv) error {
	s, err := c.GetStream(ctx, inv.id)
	if err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, s)
	}
	return printStreams(inv.stdout, []client.Stream{s})
}

func runDelete(ctx context.Context, c *client.Client, inv streamsInv) error {
	if err := c.DeleteStream(ctx, inv.id); err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, map[string]any{"id": inv.id, "deleted": true})
	}
	_, err := fmt.Fprintf(inv.stdout, "deleted %s\n", inv.id)
	return err
}

func runLifecycle(activate bool) func(context.Context, *client.Client, streamsInv) error {
	return func(ctx context.Context, c *client.Client, inv streamsInv) error {
		op := c.Deactivate
		if activate {
			op = c.Activate
		}
		s, err := op(ctx, inv.id)
		if err != nil {
			return err
		}
		if inv.output == outputJSON {
			return printJSON(inv.stdout, s)
		}
		_, err = fmt.Fprintf(inv.stdout, "%s %s: %s\n", s.ID, s.Name, s.Status)
		return err
	}
}

func runStatus(ctx context.Context, c *client.Client, inv streamsInv) error {
	st, err := c.Status(ctx, inv.id)
	if err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, st)
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"ID", st.ID},
		{"STATE", st.State},
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
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func runReplay(ctx context.Context, c *client.Client, inv streamsInv) error {
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

func runDeadLetters(ctx context.Context, c *client.Client, inv streamsInv) error {
	dl, err := c.DeadLetters(ctx, inv.id)
	if err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, dl)
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tUUID\tAT\tREASON")
	for _, d := range dl {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", d.Seq, d.UUID, fmtTime(d.At), dash(d.Reason))
	}
	return tw.Flush()
}

func runRedrive(ctx context.Context, c *client.Client, inv streamsInv) error {
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
