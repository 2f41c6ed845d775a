package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/auditstream/auditstream/internal/client"
)

// tokensCmd is the tokens command: its flags and verbs.
var tokensCmd = resCmd{
	name: "tokens",
	noun: "token",
	flags: []flagDef{
		{name: "name", usage: "create: the token's `name`"},
		{name: "org", usage: "create: the `org` it acts for (default the caller's; * = all orgs)"},
		{name: "scopes", usage: "create: comma-separated `scopes`: events.write, logs.read,\nlogStreams.read, logStreams.manage, sources.read, sources.manage,\ndetections.read, detections.manage, activity.read, admin"},
	},
	footer: envFooter,
	verbs: []resVerb{
		{name: "list", output: outputTable, run: listVerb((*client.Client).ListTokens, printTokens), help: "list the API tokens (never their secrets)"},
		{name: "get", args: " ID", takesID: true, output: outputJSON, run: oneVerb((*client.Client).GetToken, printTokens), help: "show one token"},
		{name: "create", args: " --name N --scopes S[,S] [--org O]", flags: []string{"name", "scopes", "org"}, required: []string{"name", "scopes"},
			output: outputTable, run: runTokensCreate, help: "create a token and print its secret (shown only once)"},
		{name: "delete", args: " ID", takesID: true, output: outputTable, run: deleteVerb((*client.Client).DeleteToken, "revoked"), help: "revoke a token at once"},
		{name: "revoke", args: " ID", takesID: true, output: outputTable, run: deleteVerb((*client.Client).DeleteToken, "revoked"), help: "same as delete"},
	},
	notes: `Managing tokens needs a token with the admin scope (AUDITSTREAM_ADMIN_TOKEN's
is one). The server keeps only a hash of each secret: create prints it once,
on a line "token <secret>" (with -o json, in the "token" member).
`,
}

// Tokens is `auditstream tokens VERB [ID] [flags]`, managing API tokens.
func Tokens(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	return tokensCmd.run(ctx, args, stdin, stdout, stderr, env)
}

// printTokens prints tokens as a table (never their secrets).
var printTokens = table("ID\tNAME\tORG\tSCOPES\tCREATED", func(t client.Token) []string {
	return []string{t.ID, t.Name, t.Org, strings.Join(t.Scopes, ","), fmtTime(t.Created)}
})

func runTokensCreate(ctx context.Context, c *client.Client, inv resInv) error {
	t, err := c.CreateToken(ctx, client.Token{Name: inv.name, Org: inv.org, Scopes: inv.scopes})
	if err != nil {
		return err
	}
	if t.Secret == "" {
		return errNoSecret
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, t)
	}
	_, err = fmt.Fprintf(inv.stdout, "id     %s\nname   %s\norg    %s\nscopes %s\ntoken  %s\n(the token is shown only now: store it)\n",
		t.ID, t.Name, t.Org, strings.Join(t.Scopes, ","), t.Secret)
	return err
}
