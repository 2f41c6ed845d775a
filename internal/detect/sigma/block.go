package sigma

import (
	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// CompileCorrelationBlock validates a correlation block that is not a Sigma
// document of its own (a native rule's correlation:, DETECTIONS.md §5.5) with the
// same checks as a Sigma correlation rule. block is the mapping under the
// correlation key; when it has no rules key, rules are the referenced rules
// (usually the native rule's own base predicate). References are taken as ids:
// Resolved equals Rules and GroupPaths is set; Depth is 1.
func CompileCorrelationBlock(block *yaml.Node, m Meta, rules ...string) (*Correlation, error) {
	b := *block
	if b.Kind == yaml.MappingNode {
		if k, _ := get(&b, "rules"); k == nil && len(rules) > 0 {
			seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for _, r := range rules {
				seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: r})
			}
			b.Content = append(append([]*yaml.Node(nil), b.Content...),
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "rules"}, seq)
		}
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "correlation", Line: block.Line, Column: block.Column}, &b}}
	c, err := compileCorrelation(doc, m)
	if err != nil {
		return nil, err
	}
	c.Resolved = append([]string(nil), c.Rules...)
	c.Depth = 1
	c.resolveGroupPaths()
	return c, nil
}

// resolveGroupPaths compiles the group-by paths of each resolved rule,
// with the rule's field aliases applied. c.Resolved lists the rule ids in
// the order of c.Rules.
func (c *Correlation) resolveGroupPaths() {
	c.groupPaths = map[string][]field.Path{}
	for i, id := range c.Resolved {
		paths := make([]field.Path, len(c.GroupBy))
		for j, g := range c.GroupBy {
			name := g
			if f, ok := c.Aliases[g][c.Rules[i]]; ok {
				name = f
			}
			paths[j] = field.MustParsePath(name) // checked by compileCorrelation
		}
		c.groupPaths[id] = paths
	}
}
