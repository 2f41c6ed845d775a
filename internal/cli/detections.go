package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

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
	{"list", " [--rule R] [--status S] [--since T] [--limit N]", false, "list detections, newest first (at most --limit; 0: every one)"},
	{"get", " ID", true, "show one detection"},
	{"ack", " ID [--note N]", true, "acknowledge a detection"},
	{"close", " ID [--note N]", true, "close a detection"},
	{"reopen", " ID [--note N]", true, "open a detection again"},
	{"backtest", " --rule R|--pack P [--since T] [--until T] [--async]", false, "what a rule or pack would have raised (raises nothing):\nstarts a job and waits for its result, showing progress (--async: print the job)"},
	{"backtests", "", false, "list the org's backtest jobs"},
	{"backtest-get", " ID", true, "show a backtest job: status, progress, result"},
	{"backtest-cancel", " ID", true, "stop a running backtest job (keeps what it found so far)"},
}

// Detections is `auditstream detections VERB [ID] [flags]`: detection rules,
// detections and backtests of the caller's org.
func Detections(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	fs, c := newClientFlags("detections", env)
	var file, rule, pack, status, since, until, note, output string
	var async bool
	var limit int
	fs.IntVar(&limit, "limit", 200, "list: at most this many detections, newest first, read page by page (0: every one)")
	fs.BoolVar(&async, "async", false, "backtest: start the job and print it, without waiting")
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
	case limit < 0:
		return usageError(fmt.Errorf("--limit %d: want 0 (every detection) or more", limit), stdout, stderr, usage)
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
	if err := runDetections(ctx, cl, verb, id, detectionArgs{file, rule, pack, status, since, until, note, output, async, limit}, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "auditstream: detections %s: %v\n", verb, err)
		return exitError
	}
	return exitOK
}

type detectionArgs struct {
	file, rule, pack, status, since, until, note, output string
	async                                                bool
	limit                                                int
}

func runDetections(ctx context.Context, cl *client.Client, verb, id string, a detectionArgs, stdin io.Reader, stdout, stderr io.Writer) error {
	one := func(v map[string]any, err error) error {
		if err != nil {
			return err
		}
		return printJSON(stdout, v)
	}
	// rows prints a list as JSON with --output json, else as a table of
	// the given columns.
	rows := func(header string, keys ...string) func([]map[string]any, error) error {
		return func(list []map[string]any, err error) error {
			if err != nil {
				return err
			}
			if a.output == "json" {
				return printJSON(stdout, list)
			}
			return printRows(stdout, header, list, keys...)
		}
	}
	// raw prints a document as the server sent it.
	raw := func(b json.RawMessage, err error) error {
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	switch verb {
	case "rules":
		return rows("ID\tPACK\tSTATUS\tON\tLEVEL\tTITLE\tREASON", "id", "pack", "status", "enabled", "level", "title", "reason")(cl.ListDetectionRules(ctx))
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
		return rows("ID\tPUBLISHED\tLEVEL\tSTATUS\tCOUNT\tRULE\tTITLE", "id", "published", "level", "status", "count", "rule", "title")(
			cl.ListDetections(ctx, client.DetectionQuery{Rule: a.rule, Status: a.status, Since: a.since, Limit: a.limit}))
	case "get":
		return one(cl.GetDetection(ctx, id))
	case "ack", "close", "reopen":
		st := map[string]string{"ack": "ACKNOWLEDGED", "close": "CLOSED", "reopen": "OPEN"}[verb]
		return one(cl.TriageDetection(ctx, id, st, a.note))
	case "backtest":
		return backtestJob(ctx, cl, a, stdout, stderr)
	case "backtests":
		return rows("ID\tSTATUS\tCREATED\tRULE\tPACK", "id", "status", "created", "rule", "pack")(cl.ListBacktests(ctx))
	case "backtest-get":
		return raw(cl.GetBacktest(ctx, id))
	case "backtest-cancel":
		return raw(cl.CancelBacktest(ctx, id))
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

// backtestPoll is how often `detections backtest` asks for its job's
// progress.
const backtestPoll = 500 * time.Millisecond

// backtestJob starts a backtest job and, unless --async, polls it until it
// ended, showing its progress on stderr, then prints its result (the
// result so far and why, when it stopped early). Interrupting the command
// cancels the job.
func backtestJob(ctx context.Context, cl *client.Client, a detectionArgs, stdout, stderr io.Writer) error {
	raw, err := cl.StartBacktest(ctx, a.rule, a.pack, a.since, a.until)
	if err != nil {
		return err
	}
	if a.async {
		_, err = fmt.Fprintf(stdout, "%s\n", raw)
		return err
	}
	type job struct {
		ID       string          `json:"id"`
		Status   string          `json:"status"`
		Error    string          `json:"error"`
		Result   json.RawMessage `json:"result"`
		Progress struct {
			Scanned  uint64 `json:"scanned"`
			Position uint64 `json:"position"`
			Matches  int    `json:"matches"`
		} `json:"progress"`
	}
	var j job
	if err := json.Unmarshal(raw, &j); err != nil {
		return fmt.Errorf("backtest job: %w", err)
	}
	tick := time.NewTicker(backtestPoll)
	defer tick.Stop()
	for j.Status == "RUNNING" {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _ = cl.CancelBacktest(cctx, j.ID)
			return fmt.Errorf("backtest %s cancelled: %w", j.ID, ctx.Err())
		case <-tick.C:
		}
		if raw, err = cl.GetBacktest(ctx, j.ID); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return fmt.Errorf("backtest job: %w", err)
		}
		fmt.Fprintf(stderr, "backtest %s: %s, %d events scanned, position %d, %d matches\n",
			j.ID, j.Status, j.Progress.Scanned, j.Progress.Position, j.Progress.Matches)
	}
	if j.Status == "FAILED" {
		return fmt.Errorf("backtest %s failed: %s", j.ID, j.Error)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", j.Result)
	return err
}
