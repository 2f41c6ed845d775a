package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/auditstream/auditstream/internal/client"
)

// resInv is one parsed invocation of a tokens or sources verb.
type resInv struct {
	id     string
	output string
	file   string
	name   string
	org    string
	scopes []string
	stdin  io.Reader
	stdout io.Writer
}

// resVerb is one verb of the tokens or sources command.
type resVerb struct {
	name string
	// args is how the usage shows its arguments, e.g. " ID -f FILE".
	args string
	// takesID is true for verbs acting on one resource.
	takesID bool
	// flags are the verb-specific flags it accepts; required those it needs.
	flags, required []string
	// output is the default output format.
	output string
	run    func(ctx context.Context, c *client.Client, inv resInv) error
	help   string
}

// resCmd is a client command made of verbs on one kind of resource.
type resCmd struct {
	name  string // tokens, sources
	noun  string // token, source
	verbs []resVerb
	// notes follow the verb list in the usage.
	notes string
}

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
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range rc.verbs {
		fmt.Fprintf(tw, "  %s%s\t%s\n", v.name, v.args, v.help)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%s\nflags:\n", rc.notes)
	printDefaults(w, fs)
	fmt.Fprintf(w, "\nenvironment: %s (server, default %s), %s (else %s)\n", envURL, defaultServer, envToken, envAdminToken)
}

// run parses args and runs the verb, returning the exit code.
func (rc resCmd) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	env = orEmpty(env)
	fs := newFlagSet(rc.name)
	var (
		c      conn
		inv    = resInv{stdin: stdin, stdout: stdout}
		scopes string
	)
	c.register(fs, env)
	fs.StringVar(&inv.output, "output", "", "output `format`: json or table")
	fs.StringVar(&inv.output, "o", "", "shorthand for --output")
	has := func(flag string) bool {
		return slices.ContainsFunc(rc.verbs, func(v resVerb) bool { return slices.Contains(v.flags, flag) })
	}
	if has("file") {
		fs.StringVar(&inv.file, "file", "", "the "+rc.noun+" `FILE` (YAML or JSON, - for stdin)")
		fs.StringVar(&inv.file, "f", "", "shorthand for --file")
	}
	if has("name") {
		fs.StringVar(&inv.name, "name", "", "create: the "+rc.noun+"'s `name`")
	}
	if has("org") {
		fs.StringVar(&inv.org, "org", "", "create: the `org` it acts for (default the caller's; * = all orgs)")
	}
	if has("scopes") {
		fs.StringVar(&scopes, "scopes", "", "create: comma-separated `scopes`: events.write, logs.read,\nlogStreams.read, logStreams.manage, sources.read, sources.manage, admin")
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
	cl, err := c.client(env)
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
	return nil
}

// readOne reads the single YAML or JSON object in name ("-" for stdin)
// and decodes it strictly into v.
func readOne(name string, stdin io.Reader, v any) error {
	var (
		data []byte
		err  error
	)
	if name == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, maxApplyFile+1))
		name = "stdin"
	} else {
		var f *os.File
		if f, err = os.Open(name); err == nil {
			data, err = io.ReadAll(io.LimitReader(f, maxApplyFile+1))
			_ = f.Close()
		}
	}
	if err != nil {
		return err
	}
	if len(data) > maxApplyFile {
		return fmt.Errorf("%s: larger than %d bytes", name, maxApplyFile)
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
