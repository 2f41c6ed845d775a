package console

import (
	"io/fs"
	"regexp"
	"testing"
)

// TestTemplatesNeedNoUnsafeCSP: the pages carry no inline script, no
// inline event handler and no style attribute, which the CSP (no
// 'unsafe-inline') would block, and name no other origin.
var (
	scriptTag = regexp.MustCompile(`<script[^>]*>`)
	srcAttr   = regexp.MustCompile(`\ssrc="/console/static/`)
)

func TestTemplatesNeedNoUnsafeCSP(t *testing.T) {
	bad := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"event handler attribute", regexp.MustCompile(`\son[a-z]+\s*=`)},
		{"style attribute", regexp.MustCompile(`\sstyle\s*=`)},
		{"another origin", regexp.MustCompile(`(?:src|href)="(?:https?:)?//`)},
	}
	files, err := fs.Glob(webFS, "web/*.html")
	parts, _ := fs.Glob(webFS, "web/parts/*.html")
	files = append(files, parts...)
	if err != nil || len(files) < 10 || len(parts) == 0 {
		t.Fatalf("got %d templates (%v), want the console's", len(files), err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(webFS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range scriptTag.FindAll(b, -1) {
			if !srcAttr.Match(tag) {
				t.Errorf("%s: inline script %q", f, tag)
			}
		}
		for _, p := range bad {
			if m := p.re.Find(b); m != nil {
				t.Errorf("%s: %s: %q", f, p.what, m)
			}
		}
	}
}
