package cli

import (
	"context"
	"encoding/json"
	"io"

	"github.com/auditstream/auditstream/internal/client"
)

// sourcesCmd is the sources command: its flags and verbs.
var sourcesCmd = resCmd{
	name:   "sources",
	noun:   "source",
	flags:  []flagDef{{name: "file", short: "f", usage: "the source `FILE` (YAML or JSON, - for stdin)"}},
	footer: envFooter,
	verbs: []resVerb{
		{name: "list", output: outputTable, run: listVerb((*client.Client).ListSources, printSources), help: "list the sources"},
		{name: "get", args: " ID", takesID: true, output: outputJSON, run: oneVerb((*client.Client).GetSource, printSources), help: "show one source (secrets are never shown)"},
		{name: "create", args: " -f FILE", flags: []string{"file"}, required: []string{"file"}, output: outputJSON, run: saveSourceVerb(func(ctx context.Context, c *client.Client, _ string, s client.Source) (client.Source, error) {
			return c.CreateSource(ctx, s)
		}), help: "create the source in FILE"},
		{name: "update", args: " ID -f FILE", takesID: true, flags: []string{"file"}, required: []string{"file"}, output: outputJSON, run: saveSourceVerb(func(ctx context.Context, c *client.Client, id string, s client.Source) (client.Source, error) {
			return c.UpdateSource(ctx, id, s)
		}), help: "replace a source with the one in FILE"},
		{name: "delete", args: " ID", takesID: true, output: outputTable, run: deleteVerb((*client.Client).DeleteSource, "deleted"), help: "delete a source"},
		{name: "activate", args: " ID", takesID: true, output: outputTable, run: oneVerb((*client.Client).ActivateSource, printSourceState), help: "start the source"},
		{name: "deactivate", args: " ID", takesID: true, output: outputTable, run: oneVerb((*client.Client).DeactivateSource, printSourceState), help: "stop the source (its cursor is kept)"},
		{name: "status", args: " ID", takesID: true, output: outputJSON, run: runSourcesStatus, help: "show state, counters, cursor and last error (JSON)"},
	},
	notes: `FILE (YAML or JSON, - for stdin) holds one source: type (okta or eventbridge),
name, settings, and optionally org; see the README's Sources section. Secrets
in settings are write-only: update must send them again.
`,
}

// Sources is `auditstream sources VERB [ID] [flags]`, managing sources.
func Sources(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	return sourcesCmd.run(ctx, args, stdin, stdout, stderr, env)
}

// sourceSpec is the source of a create or update file.
type sourceSpec struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	Org      string          `json:"org,omitempty"`
	Settings json.RawMessage `json:"settings"`
}

// saveSourceVerb reads the source of the -f file and saves it with save
// (given the verb's ID, if any), printing the source as stored.
func saveSourceVerb(save func(ctx context.Context, c *client.Client, id string, s client.Source) (client.Source, error)) runFunc {
	return func(ctx context.Context, c *client.Client, inv resInv) error {
		var spec sourceSpec
		if err := readOne(inv.file, inv.stdin, &spec); err != nil {
			return err
		}
		s, err := save(ctx, c, inv.id, client.Source{Type: spec.Type, Name: spec.Name, Org: spec.Org, Settings: spec.Settings})
		if err != nil {
			return err
		}
		return printOne(inv, s, printSources)
	}
}

// printSources prints sources as a table.
var printSources = table("ID\tNAME\tTYPE\tSTATUS\tORG\tCREATED", func(s client.Source) []string {
	return []string{s.ID, s.Name, s.Type, dash(s.Status), dash(s.Org), fmtTime(s.Created.Time)}
})

// printSourceState prints the line activate and deactivate answer with.
var printSourceState = stateLines(func(s client.Source) (id, name, status string) { return s.ID, s.Name, s.Status })

func runSourcesStatus(ctx context.Context, c *client.Client, inv resInv) error {
	raw, err := c.SourceStatus(ctx, inv.id)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	return printJSON(inv.stdout, v)
}
