package sigma

import (
	"testing"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// FuzzCondition feeds arbitrary conditions to the parser and binder: they must be
// refused or compile to a predicate that evaluates without panicking, and a parsed
// condition printed back must parse to the same tree.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"sel", "sel and not filter", "1 of sel_* and not 1 of filter_*", "all of them", "(a or b) and not (c)",
		"not not a", "a | count() > 5", "1 of them or all of sel*", "((((a))))", "a and", "2 of x", "all of", ")("} {
		f.Add(s)
	}
	idents := map[string]node{"a": constNode(true), "b": constNode(false), "c": constNode(true), "sel": constNode(true), "sel_x": constNode(false), "filter": constNode(false), "filter_y": constNode(true), "_h": constNode(true)}
	names := []string{"_h", "a", "b", "c", "filter", "filter_y", "sel", "sel_x"}
	var e field.Event
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseCondition(s)
		if err != nil {
			return
		}
		again, err := parseCondition(x.String())
		if err != nil {
			t.Fatalf("%q printed as %q does not parse: %v", s, x.String(), err)
		}
		if again.String() != x.String() {
			t.Fatalf("%q: printed %q reparsed as %q", s, x.String(), again.String())
		}
		n, err := bind(x, idents, names)
		if err != nil {
			return
		}
		n.eval(&e)
	})
}
