// Package shipped holds the rule packs auditstream ships inside its binary:
// rules of our own (Apache-2.0) with the correlations the published packs lack.
//
// The Okta pack (Okta, OktaFiles) is in the native format of DETECTIONS.md §5.5
// (an EventBridge pattern under match, an optional Sigma correlation block,
// suppress), plus one file of Sigma documents for the correlation that needs
// two inputs (push fatigue followed by an accepted push). Rules that re-express
// an entry of Okta's catalog that has no OIE expression carry
// related: [{id: <okta id>, type: similar}].
package shipped

import (
	"embed"
	"io/fs"
	"sort"

	"github.com/auditstream/auditstream/internal/detect/sigma"
)

// OktaPack is the name of the shipped Okta pack.
const OktaPack = "auditstream-okta"

//go:embed okta/*.yml
var oktaFS embed.FS

// Okta returns the shipped Okta pack's files, rooted at the pack.
func Okta() fs.FS {
	sub, err := fs.Sub(oktaFS, "okta")
	if err != nil {
		panic("shipped: " + err.Error()) // a build defect: the embed pattern names okta/
	}
	return sub
}

// OktaFiles returns the shipped Okta pack's files, sorted by name.
func OktaFiles() []sigma.File {
	entries, err := fs.ReadDir(oktaFS, "okta")
	if err != nil {
		panic("shipped: " + err.Error())
	}
	var out []sigma.File
	for _, e := range entries {
		data, err := oktaFS.ReadFile("okta/" + e.Name())
		if err != nil {
			panic("shipped: " + err.Error())
		}
		out = append(out, sigma.File{Name: e.Name(), Data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
