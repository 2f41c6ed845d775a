package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/client"
)

// activityCmd is the activity command: a user's activity profile.
var activityCmd = resCmd{
	name: "activity",
	noun: "user",
	flags: []flagDef{
		{name: "org", usage: "the user's `org` (all-orgs tokens only)"},
	},
	footer: envFooter,
	verbs: []resVerb{
		{name: "user", args: " ID [--org O]", takesID: true, flags: []string{"org"}, output: outputTable,
			run: runActivityUser, help: "show a user's activity profile (ID: the Okta user id, actor.id)"},
	},
	notes: `Needs a token with the activity.read scope. The user's events are at the
profile's events link (GET /api/v1/activity/users/ID/events, paged like
/api/v1/logs).
`,
}

// Activity is `auditstream activity user ID`, printing a user's activity
// profile.
func Activity(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	return activityCmd.run(ctx, args, stdin, stdout, stderr, env)
}

func runActivityUser(ctx context.Context, c *client.Client, inv resInv) error {
	raw, err := c.ActivityUser(ctx, inv.id, inv.org)
	if err != nil {
		return err
	}
	if inv.output == outputJSON {
		_, err := fmt.Fprintf(inv.stdout, "%s\n", raw)
		return err
	}
	var v activity.View
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("decode the profile: %w", err)
	}
	return printProfile(inv.stdout, v)
}

// printProfile writes a readable summary of a profile.
func printProfile(w io.Writer, v activity.View) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	stamp := func(s *activity.Stamp) string {
		if s == nil {
			return "-"
		}
		out := fmtTime(s.Time) + " " + s.Event
		for _, x := range []string{s.IP, s.Factor, s.Reason} {
			if x != "" {
				out += " " + x
			}
		}
		return out
	}
	fmt.Fprintf(tw, "user\t%s (%s)\n", v.UserID, cmp.Or(v.Login, "-"))
	fmt.Fprintf(tw, "org\t%s\n", v.Org)
	fmt.Fprintf(tw, "name\t%s\n", cmp.Or(v.DisplayName, "-"))
	fmt.Fprintf(tw, "seen\t%s .. %s (%d events as actor, %d as target)\n", fmtTime(v.First), fmtTime(v.Last), v.AsActor, v.AsTarget)
	fmt.Fprintf(tw, "last sign-in\t%s\n", stamp(v.LastSignIn))
	fmt.Fprintf(tw, "last failed sign-in\t%s\n", stamp(v.LastSignInFailure))
	fmt.Fprintf(tw, "last MFA\t%s\n", stamp(v.LastMFA))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, k := range activity.Kinds {
		items := v.Lists[k]
		if len(items) == 0 {
			continue
		}
		title := string(k)
		if n := v.Evicted[string(k)]; n > 0 {
			title += fmt.Sprintf(" (%d more evicted)", n)
		}
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  VALUE\tCOUNT\tOK\tFAIL\tFIRST\tLAST")
		for _, it := range items {
			val := it.Value
			if it.Label != "" {
				val += " (" + it.Label + ")"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\n", val, it.Count, it.OK, it.Fail, fmtTime(it.First), fmtTime(it.Last))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	actions := func(title string, as []activity.Action) error {
		if len(as) == 0 {
			return nil
		}
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range as {
			who := strings.TrimSpace(a.Actor + " " + a.Target)
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", fmtTime(a.Time), a.Event, cmp.Or(a.Result, "-"), cmp.Or(who, "-"))
		}
		return tw.Flush()
	}
	if err := actions("admin actions", v.AdminActions); err != nil {
		return err
	}
	if err := actions("changes by others", v.ChangesByOthers); err != nil {
		return err
	}
	if len(v.Detections) > 0 {
		fmt.Fprintf(w, "\ndetections\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, d := range v.Detections {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d×\t%s\n", fmtTime(d.Last), d.Rule, cmp.Or(d.Level, "-"), d.Count, d.ID)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\nevents: %s\n", v.Links["events"].Href)
	return err
}
