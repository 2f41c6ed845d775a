package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

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

// Usage writes the overall command list to w.
func Usage(w io.Writer) {
	fmt.Fprint(w, `auditstream: a self-hosted audit event journal with log streaming

usage: auditstream <command> [arguments]

commands:
  serve          run the server (journal, log streams, API, console)
  send           post NDJSON audit events from a file or stdin
  streams        manage log streams: list, get, apply, delete, activate,
                 deactivate, status, replay, deadletters, redrive
  pattern test   test an EventBridge event pattern against events
  secrets rotate re-encrypt stored secrets with the current key
  version        print the version

Run "auditstream <command> -h" for a command's flags.
The client commands read AUDITSTREAM_URL (default `+defaultServer+`) and
AUDITSTREAM_TOKEN (else AUDITSTREAM_ADMIN_TOKEN).
`)
}

// conn holds the flags every client command takes.
type conn struct {
	server, token string
}

func (c *conn) register(fs *flag.FlagSet, env func(string) string) {
	server := env(envURL)
	if server == "" {
		server = defaultServer
	}
	fs.StringVar(&c.server, "server", server, "server base `URL` (env "+envURL+")")
	fs.StringVar(&c.token, "token", "", "API `token` (env "+envToken+", else "+envAdminToken+")")
}

// client builds the API client; its errors are usage errors.
func (c *conn) client(env func(string) string) (*client.Client, error) {
	u, err := url.Parse(c.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want an http or https URL", c.server)
	}
	token := c.token
	if token == "" {
		token = env(envToken)
	}
	if token == "" {
		token = env(envAdminToken)
	}
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
