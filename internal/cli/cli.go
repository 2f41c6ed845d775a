package cli

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/auditstream/auditstream/internal/client"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Environment variables the client commands read.
const (
	envURL        = "AUDITSTREAM_URL"
	envToken      = "AUDITSTREAM_TOKEN"
	envAdminToken = "AUDITSTREAM_ADMIN_TOKEN"
)

// defaultServer is where a server started with `auditstream serve` and no
// configuration listens.
const defaultServer = "http://127.0.0.1:8080"

// Command is one line of the overall usage.
type Command struct {
	// Name is what the user types, with its verbs where useful.
	Name string
	// Summary says what it does, in a few words.
	Summary string
}

// Commands lists every auditstream command, by group, in usage order.
// A new command adds its line here (and its case in cmd/auditstream).
var Commands = []struct {
	Group    string
	Commands []Command
}{
	{"server commands", []Command{
		{"serve", "run the service: journal, log streams, sources and the API"},
		{"import", "read events archived in S3 (s3://bucket/prefix) back into the journal"},
		{"secrets rotate", "re-encrypt stored secrets with the current key (service stopped)"},
		{"verify journal", "check the tamper-evident trail: hash chains, signed digests\n(directly, or through the API with an org token)"},
		{"verify s3, verify dir", "check what an S3 or file stream exported against its signed\ndigests"},
		{"lambda", "run as an AWS Lambda function (S3 archive or forwarding; see the README)"},
	}},
	{"client commands (they talk to a running server's API)", []Command{
		{"send", "post NDJSON audit events from a file or stdin"},
		{"logs", "query or tail the System Log: query, tail"},
		{"streams", "manage log streams: list, get, apply, delete, activate,\ndeactivate, status, replay, deadletters, redrive"},
		{"sources", "manage sources (Okta poller, EventBridge receiver): list, get,\ncreate, update, delete, activate, deactivate, status"},
		{"tokens", "manage API tokens: list, get, create, delete (revoke)"},
		{"detections", "detection rules, detections and backtests: rules, upload,\nactivate, deactivate, list, get, ack, close, backtest"},
		{"activity user", "show a user's activity profile (sign-ins, IPs, apps, detections)"},
	}},
	{"tools", []Command{
		{"pattern test", "test an EventBridge event pattern against an event"},
		{"version", "print the version"},
		{"help", "print this help"},
	}},
}

// Environment lists the environment variables the commands read, for the
// overall usage.
var Environment = []Command{
	{envAdminToken, "serve: the secret of the all-orgs admin token it makes sure exists\n(16+ characters, e.g. $(openssl rand -hex 24)); client commands use\nit when " + envToken + " is unset"},
	{envURL, "client commands: the server's base URL (default " + defaultServer + ")"},
	{envToken, "client commands: the API token (else " + envAdminToken + ")"},
	{"AUDITSTREAM_SECRET_KEY", "serve, secrets rotate: the key that encrypts stored secrets\n(base64 of 32 bytes, or id:base64; or secrets.keyFile in the config)"},
	{"AUDITSTREAM_CPUPROFILE, AUDITSTREAM_MEMPROFILE", "serve: write CPU / heap profiles to this file"},
	{"AUDITSTREAM_S3_*, AUDITSTREAM_FORWARD_*", "lambda: its configuration (auditstream lambda -h)"},
}

// Usage writes the overall command list to w.
func Usage(w io.Writer) {
	fmt.Fprint(w, `auditstream: a self-hosted System Log and log streaming service for audit events

usage: auditstream <command> [arguments]
`)
	for _, g := range Commands {
		fmt.Fprintf(w, "\n%s:\n", g.Group)
		writeTable(w, g.Commands)
	}
	fmt.Fprint(w, "\nenvironment:\n")
	for _, e := range Environment {
		fmt.Fprintf(w, "  %s\n", e.Name)
		for l := range strings.SplitSeq(e.Summary, "\n") {
			fmt.Fprintf(w, "      %s\n", l)
		}
	}
	fmt.Fprint(w, `
Run "auditstream <command> -h" for a command's flags and arguments.
Start with: export AUDITSTREAM_ADMIN_TOKEN=$(openssl rand -hex 24); auditstream serve
`)
}

// writeTable writes name/summary rows; a summary's further lines are
// indented under its first.
func writeTable(w io.Writer, rows []Command) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		for i, l := range strings.Split(r.Summary, "\n") {
			name := r.Name
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, l)
		}
	}
	_ = tw.Flush()
}

// conn holds the flags every client command takes.
type conn struct {
	server, token string
	env           func(string) string
}

// newClientFlags returns the flag set of the client command name, with
// the flags every client command takes registered, and the conn they
// fill. A nil env reads as an empty environment.
func newClientFlags(name string, env func(string) string) (*flag.FlagSet, *conn) {
	fs := newFlagSet(name)
	c := &conn{env: orEmpty(env)}
	c.register(fs)
	return fs, c
}

func (c *conn) register(fs *flag.FlagSet) {
	server := c.env(envURL)
	if server == "" {
		server = defaultServer
	}
	fs.StringVar(&c.server, "server", server, "server base `URL` (env "+envURL+")")
	fs.StringVar(&c.token, "token", "", "API `token` (env "+envToken+", else "+envAdminToken+")")
}

// client builds the API client; its errors are usage errors.
func (c *conn) client() (*client.Client, error) {
	u, err := url.Parse(c.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want an http or https URL", c.server)
	}
	token := cmp.Or(c.token, c.env(envToken), c.env(envAdminToken))
	if token == "" {
		return nil, fmt.Errorf("no API token: use --token or set %s", envToken)
	}
	return client.New(c.server, token, nil), nil
}

// parseArgs parses args allowing flags before, between and after the
// positional arguments, which it returns. Everything after "--" is
// positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports instead of printing.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// usageError prints msg and the command's usage to stderr and returns 2;
// for -h it prints the usage to stdout and returns 0.
func usageError(err error, stdout, stderr io.Writer, usage func(io.Writer)) int {
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "auditstream: %v\n\n", err)
	usage(stderr)
	return exitUsage
}

// printDefaults writes fs's flags the way flag does, with "--" names; a
// flag whose usage is "shorthand for --long" is shown next to --long.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	short := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, "shorthand for --"); ok {
			short[long] = f.Name
		}
	})
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "shorthand for --") {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  "
		if s, ok := short[f.Name]; ok {
			line += "-" + s + ", "
		}
		line += "--" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" {
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
}

// flagName writes a flag name as users type it.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// orEmpty makes a nil env safe to call.
func orEmpty(env func(string) string) func(string) string {
	if env == nil {
		return func(string) string { return "" }
	}
	return env
}
