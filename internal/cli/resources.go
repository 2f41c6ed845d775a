package cli

import (
	"cmp"
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

// resInv is one parsed invocation of a resource command's verb.
type resInv struct {
	id     string
	output string
	file   string
	name   string
	org    string
	scopes []string
	// sinceArg is --since as given; a verb's check reads it into since.
	sinceArg string
	since    time.Time
	stdin    io.Reader
	stdout   io.Writer
}

// runFunc runs one verb with the API client.
type runFunc func(ctx context.Context, c *client.Client, inv resInv) error

// resVerb is one verb of a resource command.
type resVerb struct {
	name string
	// args is how the usage shows its arguments, e.g. " ID -f FILE".
	args string
	// takesID is true for verbs acting on one resource.
	takesID bool
	// flags are the verb-specific flags it accepts; required those it needs.
	flags, required []string
	// check, when set, checks and completes inv after the common checks.
	check func(inv *resInv) error
	// output is the default output format.
	output string
	run    runFunc
	help   string
}

// flagDef is a verb-specific string flag of a resource command.
type flagDef struct {
	name, short string
	usage       string
}

// resCmd is a client command made of verbs on one kind of resource.
type resCmd struct {
	name string // streams, tokens, sources
	noun string // stream, token, source
	// outputUsage is the usage of --output; empty means the plain one.
	outputUsage string
	// flags are the verb-specific flags, registered on the flag set.
	flags []flagDef
	verbs []resVerb
	// notes follow the verb list in the usage.
	notes string
	// footer follows the flags in the usage.
	footer string
}

// envFooter is the usage footer naming the environment variables.
var envFooter = fmt.Sprintf("\nenvironment: %s (server, default %s), %s (else %s)\n", envURL, defaultServer, envToken, envAdminToken)

func (rc resCmd) lookup(name string) (resVerb, bool) {
	for _, v := range rc.verbs {
		if v.name == name {
			return v, true
		}
	}
	return resVerb{}, false
}

func (rc resCmd) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: auditstream %s VERB [ID] [flags]\n\nverbs:\n", rc.name)
	rows := make([]Command, len(rc.verbs))
	for i, v := range rc.verbs {
		rows[i] = Command{Name: v.name + v.args, Summary: v.help}
	}
	writeTable(w, rows)
	fmt.Fprintf(w, "\n%s\nflags:\n", rc.notes)
	printDefaults(w, fs)
	fmt.Fprint(w, rc.footer)
}

// run parses args and runs the verb, returning the exit code.
func (rc resCmd) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	fs, c := newClientFlags(rc.name, env)
	var (
		inv    = resInv{stdin: stdin, stdout: stdout}
		scopes string
	)
	outputUsage := cmp.Or(rc.outputUsage, "output `format`: json or table")
	fs.StringVar(&inv.output, "output", "", outputUsage)
	fs.StringVar(&inv.output, "o", "", "shorthand for --output")
	targets := map[string]*string{"file": &inv.file, "name": &inv.name, "org": &inv.org, "scopes": &scopes, "since": &inv.sinceArg}
	for _, f := range rc.flags {
		fs.StringVar(targets[f.name], f.name, "", f.usage)
		if f.short != "" {
			fs.StringVar(targets[f.name], f.short, "", "shorthand for --"+f.name)
		}
	}
	usage := func(w io.Writer) { rc.usage(w, fs) }
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if len(pos) == 0 {
		return usageError(fmt.Errorf("%s needs a verb", rc.name), stdout, stderr, usage)
	}
	verb, ok := rc.lookup(pos[0])
	if !ok {
		return usageError(fmt.Errorf("unknown %s verb %q", rc.name, pos[0]), stdout, stderr, usage)
	}
	if err := rc.check(fs, verb, pos[1:], &inv); err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	for s := range strings.SplitSeq(scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			inv.scopes = append(inv.scopes, s)
		}
	}
	cl, err := c.client()
	if err != nil {
		return usageError(err, stdout, stderr, usage)
	}
	if err := verb.run(ctx, cl, inv); err != nil {
		fmt.Fprintf(stderr, "auditstream: %s %s: %v\n", rc.name, verb.name, err)
		return exitError
	}
	return exitOK
}

// check validates verb's positional arguments and flags and fills inv.
func (rc resCmd) check(fs *flag.FlagSet, verb resVerb, args []string, inv *resInv) error {
	switch {
	case verb.takesID && len(args) != 1:
		return fmt.Errorf("%s %s takes one %s ID, got %d arguments", rc.name, verb.name, rc.noun, len(args))
	case !verb.takesID && len(args) != 0:
		return fmt.Errorf("%s %s takes no arguments, got %q", rc.name, verb.name, args)
	}
	if verb.takesID {
		if args[0] == "" {
			return fmt.Errorf("%s %s: empty %s ID", rc.name, verb.name, rc.noun)
		}
		inv.id = args[0]
	}
	var bad []string
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		name := f.Name
		switch name {
		case "o":
			name = "output"
		case "f":
			name = "file"
		}
		set[name] = true
		switch name {
		case "server", "token", "output":
		default:
			if !slices.Contains(verb.flags, name) {
				bad = append(bad, flagName(f.Name))
			}
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("%s %s does not take %s", rc.name, verb.name, strings.Join(bad, ", "))
	}
	for _, r := range verb.required {
		if !set[r] {
			return fmt.Errorf("%s %s needs --%s", rc.name, verb.name, r)
		}
	}
	switch inv.output {
	case "":
		inv.output = verb.output
	case outputJSON, outputTable:
	default:
		return fmt.Errorf("--output %q: want json or table", inv.output)
	}
	if verb.check != nil {
		return verb.check(inv)
	}
	return nil
}

// listVerb runs list and prints the items.
func listVerb[T any](list func(*client.Client, context.Context) ([]T, error), table func(io.Writer, []T) error) runFunc {
	return func(ctx context.Context, c *client.Client, inv resInv) error {
		items, err := list(c, ctx)
		if err != nil {
			return err
		}
		return printAll(inv, items, table)
	}
}

// printAll prints items as a JSON array or with table.
func printAll[T any](inv resInv, items []T, table func(io.Writer, []T) error) error {
	if inv.output == outputJSON {
		return printJSON(inv.stdout, items)
	}
	return table(inv.stdout, items)
}

// table returns a printer of items as a table: the header line (none
// when empty), then the columns of each item's row.
func table[T any](header string, row func(T) []string) func(io.Writer, []T) error {
	return func(w io.Writer, items []T) error {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if header != "" {
			fmt.Fprintln(tw, header)
		}
		for _, item := range items {
			fmt.Fprintln(tw, strings.Join(row(item), "\t"))
		}
		return tw.Flush()
	}
}

// oneVerb runs op on the verb's ID and prints the item it returns.
func oneVerb[T any](op func(*client.Client, context.Context, string) (T, error), table func(io.Writer, []T) error) runFunc {
	return func(ctx context.Context, c *client.Client, inv resInv) error {
		item, err := op(c, ctx, inv.id)
		if err != nil {
			return err
		}
		return printOne(inv, item, table)
	}
}

// printOne prints item as JSON or as a table of one row.
func printOne[T any](inv resInv, item T, table func(io.Writer, []T) error) error {
	if inv.output == outputJSON {
		return printJSON(inv.stdout, item)
	}
	return table(inv.stdout, []T{item})
}

// deleteVerb runs del on the verb's ID and reports it as done (e.g.
// "deleted ID").
func deleteVerb(del func(*client.Client, context.Context, string) error, done string) runFunc {
	return func(ctx context.Context, c *client.Client, inv resInv) error {
		if err := del(c, ctx, inv.id); err != nil {
			return err
		}
		if inv.output == outputJSON {
			return printJSON(inv.stdout, map[string]any{"id": inv.id, "deleted": true})
		}
		_, err := fmt.Fprintf(inv.stdout, "%s %s\n", done, inv.id)
		return err
	}
}

// stateLines prints "ID NAME: STATUS" lines, the answer to activate and
// deactivate.
func stateLines[T any](fields func(T) (id, name, status string)) func(io.Writer, []T) error {
	return func(w io.Writer, items []T) error {
		for _, item := range items {
			id, name, status := fields(item)
			if _, err := fmt.Fprintf(w, "%s %s: %s\n", id, name, status); err != nil {
				return err
			}
		}
		return nil
	}
}

// readOne reads the single YAML or JSON object in name ("-" for stdin)
// and decodes it strictly into v.
func readOne(name string, stdin io.Reader, v any) error {
	data, name, err := readInput(name, stdin)
	if err != nil {
		return err
	}
	docs, err := decodeDocs(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(docs) != 1 {
		return fmt.Errorf("%s: want one object, got %d documents", name, len(docs))
	}
	if _, ok := docs[0].(map[string]any); !ok {
		return fmt.Errorf("%s: want an object, got %T", name, docs[0])
	}
	b, err := json.Marshal(docs[0])
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// errNoSecret reports a token answer without its secret.
var errNoSecret = errors.New("the server returned no secret")
