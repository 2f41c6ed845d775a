package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/auditstream/auditstream/internal/app"
	"github.com/auditstream/auditstream/internal/client"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/integrity"
)

const verifyUsage = `usage: auditstream verify journal [flags]

Checks the tamper-evident trail (docs/integrity.md) and reports "verified N
events from T1 to T2" per org, or precisely what is wrong: the first broken
link (position, uuid), modified or missing events, forged digests, a journal
rolled back behind a digest given with --digest. Removals recorded by a
signed truncation digest (retention) are shown as policy deletions.

  verify journal   the journal: directly (admin: --data-dir while serve is
                   stopped, or --nats-url), or through the API with an org
                   token (--server and --token: the token's org)
  verify s3        what an S3 stream exported, against its signed digests
                   (verify s3 --help; docs/integrity-exports.md)
  verify dir       what a file stream exported, likewise (verify dir --help)

Exit status: 0 verified, 1 problems found (or an error), 2 usage.

Flags:
%s`

// verifySubcommands maps each verify subcommand to its runner.
var verifySubcommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int{
	"journal": runVerifyJournal,
	"s3":      verifyS3,
	"dir":     verifyDir,
}

// runVerify runs "auditstream verify <what>".
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) > 0 {
		if run, ok := verifySubcommands[args[0]]; ok {
			return run(ctx, args[1:], stdout, stderr, env)
		}
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprintf(stdout, verifyUsage, "")
			return 0
		}
	}
	fmt.Fprintf(stderr, verifyUsage, "")
	return 2
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runVerifyJournal(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet("verify journal", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	jf := addJournalFlags(fs, "admin: ", "journal, integrity.keys")
	server := fs.String("server", "", "through the API: the server's base `URL` (env AUDITSTREAM_URL)")
	token := fs.String("token", "", "through the API: an API `token` with logs.read (env AUDITSTREAM_TOKEN)")
	org := fs.String("org", "", "the `org` to verify (admin: default every org; an all-orgs token must name one)")
	keysFile := fs.String("keys", "", "public keys `FILE` (JSON, as GET /api/v1/integrity/keys answers); default: admin the configured keys, API the server's (which trusts the server)")
	var digests multiFlag
	fs.Var(&digests, "digest", "a signed digest `FILE` kept outside the journal: an envelope, or one entry of GET /api/v1/integrity/digests; repeatable")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	if code, done := parseFlags(fs, args, stdout, stderr, verifyUsage); done {
		return code
	}
	var keys []integrity.PublicKey
	if *keysFile != "" {
		var err error
		if keys, err = integrity.ReadKeysFile(*keysFile); err != nil {
			fmt.Fprintf(stderr, "verify journal: %v\n", err)
			return 2
		}
	}
	var expect [][]byte
	for _, f := range digests {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "verify journal: %v\n", err)
			return 2
		}
		expect = append(expect, integrity.EnvelopeOf(b))
	}
	var reports []integrity.Report
	var err error
	if *server != "" || *token != "" {
		if *jf.dataDir != "" || *jf.natsURL != "" {
			fmt.Fprintln(stderr, "verify journal: --server/--token (through the API) and --data-dir/--nats-url (the journal) exclude each other")
			return 2
		}
		srv := cmp.Or(*server, env("AUDITSTREAM_URL"), "http://127.0.0.1:8080")
		tok := cmp.Or(*token, env("AUDITSTREAM_TOKEN"), env("AUDITSTREAM_ADMIN_TOKEN"))
		c := client.New(srv, tok, nil)
		if keys == nil {
			if keys, err = integrity.FetchKeys(ctx, c.GetJSON); err != nil {
				fmt.Fprintf(stderr, "verify journal: keys: %v\n", err)
				return 1
			}
			fmt.Fprintln(stderr, "verify journal: verifying with the server's keys (give --keys FILE kept apart to not trust the server)")
		}
		kr, kerr := integrity.VerifyOnly(keys)
		if kerr != nil {
			fmt.Fprintf(stderr, "verify journal: %v\n", kerr)
			return 2
		}
		var r integrity.Report
		r, err = integrity.VerifyAPI(ctx, c.GetJSON, *org, kr.Lookup(), expect)
		if err == nil {
			reports = []integrity.Report{r}
		}
	} else {
		cfg, cerr := jf.load()
		if cerr != nil {
			fmt.Fprintf(stderr, "verify journal: %v\n", cerr)
			return 2
		}
		reports, err = app.VerifyJournal(ctx, cfg, *org, keys, expect, newLogger(stderr, config.Log{Level: "warn"}))
	}
	if err != nil {
		fmt.Fprintf(stderr, "verify journal: %v\n", err)
		return 1
	}
	ok := true
	for _, r := range reports {
		ok = ok && r.OK()
	}
	if *asJSON {
		printJSON(stdout, reports)
	} else {
		if len(reports) == 0 {
			fmt.Fprintln(stdout, "no events in the journal")
		}
		for _, r := range reports {
			fmt.Fprint(stdout, r.String())
		}
	}
	return verifyStatus(ok)
}
