package sigma

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestCompileCorrelationBlock(t *testing.T) {
	tests := []struct {
		block, want string
	}{
		{"type: event_count\ngroup-by: [actor.id]\ntimespan: 10m\ncondition: {gte: 5}", ""},
		{"type: value_count\ngroup-by: [client.ipAddress]\ntimespan: 1h\ncondition: {gt: 5, field: actor.id}", ""},
		{"type: event_count\ngroup-by: [actor.id]\ncondition: {gte: 5}", "timespan is required"},
		{"type: value_count\ntimespan: 1h\ncondition: {gt: 5}", "needs condition.field"},
		{"type: event_count\ntimespan: 1h\ncondition: {gte: 5}\nwindow: 3", `unknown correlation key "window"`},
		{"type: median\ntimespan: 1h\ncondition: {gte: 5}", "is not one of"},
	}
	for _, tt := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tt.block), &n); err != nil {
			t.Fatal(err)
		}
		c, err := CompileCorrelationBlock(n.Content[0], Meta{ID: "r"}, "r#base")
		if tt.want != "" {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q: got %v, want an error with %q", tt.block, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.block, err)
			continue
		}
		if len(c.Resolved) != 1 || c.Resolved[0] != "r#base" || len(c.GroupPaths("r#base")) != len(c.GroupBy) || c.Depth != 1 {
			t.Errorf("%q: got %+v", tt.block, c)
		}
	}
}
