package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/auditstream/auditstream/internal/client"
)

var sourcesCmd = resCmd{
	name: "sources",
	noun: "source",
	verbs: []resVerb{
		{name: "list", output: outputTable, run: runSourcesList, help: "list the sources"},
		{name: "get", args: " ID", takesID: true, output: outputJSON, run: runSourcesGet, help: "show one source (secrets are never shown)"},
		{name: "create", args: " -f FILE", flags: []string{"file"}, required: []string{"file"}, output: outputJSON, run: runSourcesCreate, help: "create the source in FILE"},
		{name: "update", args: " ID -f FILE", takesID: true, flags: []string{"file"}, required: []string{"file"}, output: outputJSON, run: runSourcesUpdate, help: "replace a source with the one in FILE"},
		{name: "delete", args: " ID", takesID: true, output: outputTable, run: runSourcesDelete, help: "delete a source"},
		{name: "activate", args: " ID", takesID: true, output: outputTable, run: runSourcesLifecycle(true), help: "start the source"},
		{name: "deactivate", args: " ID", takesID: true, output: outputTable, run: runSourcesLifecycle(false), help: "stop the source (its cursor is kept)"},
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

func (s sourceSpec) source() client.Source {
	return client.Source{Type: s.Type, Name: s.Name, Org: s.Org, Settings: s.Settings}
}

func printSources(w io.Writer, sources []client.Source) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tSTATUS\tORG\tCREATED")
	for _, s := range sources {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, s.Type, dash(s.Status), dash(s.Org), fmtTime(s.Created))
	}
	return tw.Flush()
}

func printSource(inv resInv, s client.Source) error {
	if inv.output == outputJSON {
		return printJSON(inv.stdout, s)
	}
	return printSources(inv.stdout, []client.Source{s})
}

func runSourcesList(ctx context.Context, c *client.Client, inv resInv) error {
	sources, err := c.ListSources(ctx)
	if err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, sources)
	}
	return printSources(inv.stdout, sources)
}

func runSourcesGet(ctx context.Context, c *client.Client, inv resInv) error {
	s, err := c.GetSource(ctx, inv.id)
	if err != nil {
		return err
	}
	return printSource(inv, s)
}

func runSourcesCreate(ctx context.Context, c *client.Client, inv resInv) error {
	var spec sourceSpec
	if err := readOne(inv.file, inv.stdin, &spec); err != nil {
		return err
	}
	s, err := c.CreateSource(ctx, spec.source())
	if err != nil {
		return err
	}
	return printSource(inv, s)
}

func runSourcesUpdate(ctx context.Context, c *client.Client, inv resInv) error {
	var spec sourceSpec
	if err := readOne(inv.file, inv.stdin, &spec); err != nil {
		return err
	}
	s, err := c.UpdateSource(ctx, inv.id, spec.source())
	if err != nil {
		return err
	}
	return printSource(inv, s)
}

func runSourcesDelete(ctx context.Context, c *client.Client, inv resInv) error {
	if err := c.DeleteSource(ctx, inv.id); err != nil {
		return err
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, map[string]any{"id": inv.id, "deleted": true})
	}
	_, err := fmt.Fprintf(inv.stdout, "deleted %s\n", inv.id)
	return err
}

func runSourcesLifecycle(activate bool) func(context.Context, *client.Client, resInv) error {
	return func(ctx context.Context, c *client.Client, inv resInv) error {
		op := c.DeactivateSource
		if activate {
			op = c.ActivateSource
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
