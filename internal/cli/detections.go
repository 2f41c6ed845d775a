package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/auditstream/auditstream/internal/client"
)

// detectionVerbs are the verbs of `auditstream detections`, in usage order:
// name with its arguments, whether it takes an ID, and what it does.
var detectionVerbs = []struct {
	name, args string
	id         bool
	help       string
}{
	{"rules", "", false, "list the detection rules with their status and whether they are on"},
	{"rule", " ID", true, "show one rule"},
	{"upload", " -f FILE", false, "upload a rule file (Sigma or native YAML) to the org"},
	{"delete-rule", " ID", true, "delete an uploaded rule"},
	{"activate", " ID", true, "turn a rule on for the org"},
	{"deactivate", " ID", true, "turn a rule off for the org"},
	{"list", " [--rule R] [--status S] [--since T]", false, "list detections, newest first"},
	{"get", " ID", true, "show one detection"},
	{"ack", " ID [--note N]", true, "acknowledge a detection"},
	{"close", " ID [--note N]", true, "close a detection"},
	{"reopen", " ID [--note N]", true, "open a detection again"},
	{"backtest", " --rule R|--pack P [--since T] [--until T]", false, "what a rule or pack would have raised (raises nothing)"},
}

// Detections is `auditstream detections VERB [ID] [flags]`: detection rules,
// detections and backtests of the caller's org.
func Detections(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	fs, c := newClientFlags("detections", env)
	var file, rule, pack, status, since, until, note, output string
	fs.StringVar(&file, "file", "", "upload: the rule `file` (- for stdin)")
	fs.StringVar(&file, "f", "", "shorthand for --file")
	fs.StringVar(&rule, "rule", "", "list, backtest: the rule `id`")
	fs.StringVar(&pack, "pack", "", "backtest: the `pack` name")
	fs.StringVar(&status, "status", "", "list: OPEN, ACKNOWLEDGED or CLOSED")
	fs.StringVar(&since, "since", "", "list, backtest: from this RFC 3339 `time`")
	fs.StringVar(&until, "until", "", "backtest: up to this RFC 3339 `time`")
	fs.StringVar(&note, "note", "", "ack, close, reopen: a `note` kept with the detection")
	fs.StringVar(&output, "output", "table", "output `format`: json or table")
	fs.StringVar(&output, "o", "table", "shorthand for --output")
	usage := func(w io.Writer) {
		fmt.Fprint(w, "usage: auditstream detections VERB [ID] [flags]\n\nverbs:\n")
		rows := make([]Command, len(detectionVerbs))
		for i, v := range detectionVerbs {
			rows[i] = Command{Name: v.name + v.args, Summary: v.help}
		}
		writeTable(w, rows)
		fmt.Fprint(w, "\nReading needs a token with detections.read; upload, delete-rule, activate,\ndeactivate, ack, close and reopen need detections.manage.\n\nflags:\n")
		printDefaults(w, fs)
		fmt.Fprint(w, envFooter)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if len(pos) == 0 {
		return usageError(fmt.Errorf("detections needs a verb"), stdout, stderr, usage)
	}
	verb := pos[0]
	found, wantID := false, false
	for _, v := range detectionVerbs {
		if v.name == verb {
			found, wantID = true, v.id
		}
	}
	switch {
	case !found:
		return usageError(fmt.Errorf("unknown detections verb %q", verb), stdout, stderr, usage)
	case wantID && len(pos) != 2:
		return usageError(fmt.Errorf("detections %s takes one ID", verb), stdout, stderr, usage)
	case !wantID && len(pos) != 1:
		return usageError(fmt.Errorf("detections %s takes no arguments, got %q", verb, pos[1:]), stdout, stderr, usage)
	case verb == "upload" && file == "":
		return usageError(fmt.Errorf("detections upload needs -f FILE"), stdout, stderr, usage)
	case verb == "backtest" && rule == "" && pack == "":
		return usageError(fmt.Errorf("detections backtest needs --rule or --pack"), stdout, stderr, usage)
	case output != "json" && output != "table":
		return usageError(fmt.Errorf("--output %q: want json or table", output), stdout, stderr, usage)
	}
	id := ""
	if wantID {
		id = pos[1]
	}
	cl, err := c.client()
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if err := runDetections(ctx, cl, verb, id, detectionArgs{file, rule, pack, status, since, until, note, output}, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "auditstream: detections %s: %v\n", verb, err)
		return exitError
	}
	return exitOK
}

type detectionArgs struct{ file, rule, pack, status, since, until, note, output string }

func runDetections(ctx context.Context, cl *client.Client, verb, id string, a detectionArgs, stdin io.Reader, stdout io.Writer) error {
	one := func(v map[string]any, err error) error {
		if err != nil {
			return err
		}
		return printJSON(stdout, v)
	}
	switch verb {
	case "rules":
		rules, err := cl.ListDetectionRules(ctx)
		if err != nil {
			return err
		}
		if a.output == "json" {
			return printJSON(stdout, rules)
		}
		return printRows(stdout, "ID\tPACK\tSTATUS\tON\tLEVEL\tTITLE\tREASON", rules, "id", "pack", "status", "enabled", "level", "title", "reason")
	case "rule":
		return one(cl.GetDetectionRule(ctx, id))
	case "upload":
		var b []byte
		var err error
		if a.file == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(a.file)
		}
		if err != nil {
			return err
		}
		return one(cl.UploadDetectionRule(ctx, b))
	case "delete-rule":
		if err := cl.DeleteDetectionRule(ctx, id); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "deleted %s\n", id)
		return err
	case "activate", "deactivate":
		return one(cl.SetDetectionRule(ctx, id, verb == "activate"))
	case "list":
		ds, err := cl.ListDetections(ctx, client.DetectionQuery{Rule: a.rule, Status: a.status, Since: a.since})
		if err != nil {
			return err
		}
		if a.output == "json" {
			return printJSON(stdout, ds)
		}
		return printRows(stdout, "ID\tPUBLISHED\tLEVEL\tSTATUS\tCOUNT\tRULE\tTITLE", ds, "id", "published", "level", "status", "count", "rule", "title")
	case "get":
		return one(cl.GetDetection(ctx, id))
	case "ack", "close", "reopen":
		st := map[string]string{"ack": "ACKNOWLEDGED", "close": "CLOSED", "reopen": "OPEN"}[verb]
		return one(cl.TriageDetection(ctx, id, st, a.note))
	case "backtest":
		raw, err := cl.Backtest(ctx, a.rule, a.pack, a.since, a.until)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", raw)
		return err
	}
	return fmt.Errorf("unknown verb %q", verb)
}

// printRows prints JSON objects as a table of the given keys.
func printRows(w io.Writer, header string, rows []map[string]any, keys ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		for i, k := range keys {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			v, ok := r[k]
			if !ok || v == nil || v == "" {
				v = "-"
			}
			fmt.Fprint(tw, v)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
