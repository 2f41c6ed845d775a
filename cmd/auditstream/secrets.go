package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/auditstream/auditstream/internal/app"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/secret"
)

const secretsUsage = `usage: auditstream secrets rotate [--data-dir DIR] [--config FILE] [--nats-url URL]

Re-encrypts every log stream and source record with the current secret key
(the first line of secrets.keyFile, or AUDITSTREAM_SECRET_KEY), encrypts the
records still stored in clear, and purges the older copies from the journal.
The key file must still hold the keys the records were encrypted with.

Run it while serve is stopped (it opens the embedded journal in --data-dir),
or with --nats-url against a cluster while no definitions are being changed.
`

// runSecrets runs "auditstream secrets rotate".
func runSecrets(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) == 0 || args[0] != "rotate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, secretsUsage)
			return 0
		}
		fmt.Fprint(stderr, secretsUsage)
		return 2
	}
	fs := flag.NewFlagSet("secrets rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, secretsUsage); fs.PrintDefaults() }
	jf := addJournalFlags(fs, "", "secrets.keyFile, journal")
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secrets rotate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := jf.load()
	if err != nil {
		fmt.Fprintf(stderr, "secrets rotate: %v\n", err)
		return 2
	}
	keys, err := secret.LoadKeyring(env("AUDITSTREAM_SECRET_KEY"), cfg.Secrets.KeyFile)
	if err != nil {
		fmt.Fprintf(stderr, "secrets rotate: %v\n", err)
		return 2
	}
	if keys == nil {
		fmt.Fprintln(stderr, "secrets rotate: no secret key: set AUDITSTREAM_SECRET_KEY or secrets.keyFile in --config")
		return 2
	}
	log := newLogger(stderr, config.Log{Level: "warn"})
	reports, err := app.RotateSecrets(ctx, cfg, keys, log)
	for _, r := range reports {
		note := ""
		if r.Recovered {
			note = ", finishing an interrupted rotation"
		}
		fmt.Fprintf(stdout, "%s: %d records encrypted with key %s (%d were in clear)%s\n", r.Bucket, r.Records, keys.CurrentID(), r.Clear, note)
	}
	if err != nil {
		fmt.Fprintf(stderr, "secrets rotate: %v\n", err)
		return 1
	}
	return 0
}
