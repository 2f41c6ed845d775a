package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Refusal is a rule document the engine does not load, with where and why. A
// refused rule is never silently dropped: the pack lists it.
type Refusal struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Title  string `json:"title,omitempty"`
	Reason string `json:"reason"`
}

func (r Refusal) Error() string { return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason) }

// Warning is something loaded but worth telling the operator.
type Warning struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message) }

// File is one rule file of a pack: its pack-relative path and contents.
type File struct {
	Name string
	Data []byte
}

// Pack is the result of loading a set of Sigma files: what loaded, what was
// refused and why, and warnings.
type Pack struct {
	Rules        []*Rule
	Correlations []*Correlation
	Filters      []*Filter
	Refused      []Refusal
	Warnings     []Warning
}

// Rule returns the loaded rule with the given id, or nil.
func (p *Pack) Rule(id string) *Rule {
	for _, r := range p.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// LoadDir loads every .yml and .yaml file under dir. The error is for reading the
// directory only; rules that cannot be honoured are in Pack.Refused.
func LoadDir(dir string, ov Overlay) (*Pack, error) {
	return LoadFS(os.DirFS(dir), ".", ov)
}

// LoadFS loads every .yml and .yaml file under root in fsys; file names in the pack
// are relative to root.
func LoadFS(fsys fs.FS, root string, ov Overlay) (*Pack, error) {
	files, err := ReadFiles(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("load sigma pack: %w", err)
	}
	return LoadFiles(ov, files...), nil
}

// ReadFiles reads every .yml and .yaml file under root in fsys, named
// relative to root: a rule pack or catalog as LoadFiles takes it.
func ReadFiles(fsys fs.FS, root string) ([]File, error) {
	var files []File
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := p
		if root != "." {
			rel = strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		}
		files = append(files, File{Name: rel, Data: data})
		return nil
	})
	return files, err
}

// LoadFiles loads the given files as one pack: documents are parsed and compiled,
// filters applied to the rules they name, and correlations resolved and checked
// (references, cycles, chain depth).
func LoadFiles(ov Overlay, files ...File) *Pack {
	p := &Pack{}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range files {
		p.addFile(f, &ov)
	}
	p.dedupe()
	p.applyFilters()
	p.resolveCorrelations()
	return p
}

var yamlLineRE = regexp.MustCompile(`line ([0-9]+)`)

func (p *Pack) refuse(file string, line int, m *Meta, err error) {
	r := Refusal{File: file, Line: line, Reason: err.Error()}
	var le *lineError
	if errors.As(err, &le) {
		r.Line, r.Reason = le.line, le.err.Error()
		// Keep the context the wrapping added (e.g. the search identifier).
		if s := err.Error(); !strings.HasPrefix(s, "line ") {
			r.Reason = strings.Replace(s, le.Error(), le.err.Error(), 1)
		}
	}
	if m != nil {
		r.ID, r.Title = m.ID, m.Title
	}
	p.Refused = append(p.Refused, r)
}

func (p *Pack) addFile(f File, ov *Overlay) {
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	ndoc := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			line := 1
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			p.refuse(f.Name, line, nil, fmt.Errorf("not valid YAML: %w", err))
			return // the decoder cannot continue past a syntax error
		}
		if len(doc.Content) == 0 {
			continue
		}
		ndoc++
		p.addDoc(f.Name, ndoc, doc.Content[0], ov)
	}
}

func (p *Pack) addDoc(file string, ndoc int, doc *yaml.Node, ov *Overlay) {
	if doc.Kind != yaml.MappingNode {
		p.refuse(file, doc.Line, nil, errors.New("a Sigma document must be a map"))
		return
	}
	var m Meta
	own := map[string]bool{"detection": true, "correlation": true, "filter": true}
	metaErr := parseMeta(doc, &m, own)
	m.File, m.Line = file, doc.Line
	if m.ID == "" {
		m.ID, m.IDDerived = file, true
		if ndoc > 1 {
			m.ID = fmt.Sprintf("%s#%d", file, ndoc)
		}
		p.Warnings = append(p.Warnings, Warning{File: file, Line: doc.Line, Message: fmt.Sprintf("no id: using %q, derived from the file path", m.ID)})
	}
	if metaErr != nil {
		p.refuse(file, doc.Line, &m, metaErr)
		return
	}
	warn := func(line int, msg string) {
		p.Warnings = append(p.Warnings, Warning{File: file, Line: line, Message: msg})
	}
	if k, _ := get(doc, "action"); k != nil {
		p.refuse(file, k.Line, &m, errors.New("rule collections (action: global/reset/repeat) are not supported: write each rule as a complete document"))
		return
	}
	ck, _ := get(doc, "correlation")
	fk, _ := get(doc, "filter")
	dk, _ := get(doc, "detection")
	n := 0
	for _, k := range []*yaml.Node{ck, fk, dk} {
		if k != nil {
			n++
		}
	}
	if n != 1 {
		p.refuse(file, doc.Line, &m, errors.New("a Sigma document needs exactly one of detection, correlation or filter"))
		return
	}
	switch {
	case ck != nil:
		c, err := compileCorrelation(doc, m)
		if err != nil {
			p.refuse(file, doc.Line, &m, err)
			return
		}
		p.Correlations = append(p.Correlations, c)
	case fk != nil:
		f, err := compileFilter(doc, m, ov, warn)
		if err != nil {
			p.refuse(file, doc.Line, &m, err)
			return
		}
		p.Filters = append(p.Filters, f)
	default:
		if lk, _ := get(doc, "logsource"); lk == nil {
			p.refuse(file, doc.Line, &m, errors.New("logsource is required"))
			return
		}
		r, err := compileRule(doc, m, ov, warn)
		if err != nil {
			p.refuse(file, doc.Line, &m, err)
			return
		}
		p.Rules = append(p.Rules, r)
	}
}

// dedupe refuses documents whose id repeats an earlier one's.
func (p *Pack) dedupe() {
	seen := map[string]*Meta{}
	check := func(m *Meta) bool {
		if first, ok := seen[m.ID]; ok {
			p.refuse(m.File, m.Line, m, fmt.Errorf("duplicate id %q (first in %s:%d)", m.ID, first.File, first.Line))
			return false
		}
		seen[m.ID] = m
		return true
	}
	names := map[string]*Meta{}
	checkName := func(m *Meta) bool {
		if m.Name == "" {
			return true
		}
		if first, ok := names[m.Name]; ok {
			p.refuse(m.File, m.Line, m, fmt.Errorf("duplicate name %q (first in %s:%d): correlations could not tell them apart", m.Name, first.File, first.Line))
			return false
		}
		names[m.Name] = m
		return true
	}
	p.Rules = slices.DeleteFunc(p.Rules, func(r *Rule) bool { return !check(&r.Meta) || !checkName(&r.Meta) })
	p.Correlations = slices.DeleteFunc(p.Correlations, func(c *Correlation) bool { return !check(&c.Meta) || !checkName(&c.Meta) })
	p.Filters = slices.DeleteFunc(p.Filters, func(f *Filter) bool { return !check(&f.Meta) })
}

func compatible(a, b Logsource) bool {
	eq := func(x, y string) bool { return x == "" || y == "" || strings.EqualFold(x, y) }
	return eq(a.Category, b.Category) && eq(a.Product, b.Product) && eq(a.Service, b.Service)
}

// applyFilters ANDs NOT each filter into the rules it names (by id, name or title).
func (p *Pack) applyFilters() {
	for _, f := range p.Filters {
		for _, ref := range f.Rules {
			var hit []*Rule
			for _, r := range p.Rules {
				if r.ID == ref || r.Name != "" && r.Name == ref || r.Title == ref {
					hit = append(hit, r)
				}
			}
			if len(hit) == 0 {
				p.Warnings = append(p.Warnings, Warning{File: f.File, Line: f.Line, Message: fmt.Sprintf("filter %q: rule %q is not in the pack; nothing filtered", f.ID, ref)})
			}
			for _, r := range hit {
				if !compatible(f.Logsource, r.Logsource) {
					p.Warnings = append(p.Warnings, Warning{File: f.File, Line: f.Line, Message: fmt.Sprintf("filter %q not applied to rule %q: logsource differs", f.ID, r.ID)})
					continue
				}
				if r.filter == nil {
					r.filter = orNode{f.pred}
				} else {
					r.filter = append(r.filter.(orNode), f.pred)
				}
				r.Filters = append(r.Filters, f.ID)
			}
		}
	}
}

// resolveCorrelations resolves rule references to ids, refuses correlations with
// unknown references, cycles or chains deeper than MaxChainDepth, and computes
// Depth.
func (p *Pack) resolveCorrelations() {
	byRef := map[string]string{} // id or name → id
	for _, r := range p.Rules {
		byRef[r.ID] = r.ID
		if r.Name != "" {
			byRef[r.Name] = r.ID
		}
	}
	corr := map[string]*Correlation{}
	for _, c := range p.Correlations {
		byRef[c.ID] = c.ID
		if c.Name != "" {
			byRef[c.Name] = c.ID
		}
		corr[c.ID] = c
	}
	bad := map[string]string{}
	for _, c := range p.Correlations {
		c.Resolved = nil
		for _, ref := range c.Rules {
			id, ok := byRef[ref]
			if !ok {
				bad[c.ID] = fmt.Sprintf("correlation refers to %q, which is no rule id or name in the pack", ref)
				if slices.ContainsFunc(p.Refused, func(r Refusal) bool { return r.ID == ref }) {
					bad[c.ID] = fmt.Sprintf("correlation refers to %q, which is refused", ref)
				}
				break
			}
			c.Resolved = append(c.Resolved, id)
		}
		if len(c.Resolved) == len(c.Rules) {
			c.resolveGroupPaths()
		}
	}
	// Depth by DFS; a node on the stack again is a cycle.
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(id string) int
	visit = func(id string) int {
		c := corr[id]
		switch color[id] {
		case grey:
			for _, s := range stack[slices.Index(stack, id):] {
				bad[s] = "correlations refer to each other in a cycle: " + strings.Join(append(slices.Clone(stack[slices.Index(stack, id):]), id), " → ")
			}
			return MaxChainDepth + 1
		case black:
			return c.Depth
		}
		color[id] = grey
		stack = append(stack, id)
		defer func() { stack = stack[:len(stack)-1] }()
		d := 1
		for _, ref := range c.Resolved {
			if _, isCorr := corr[ref]; isCorr {
				sub := visit(ref)
				if _, refBad := bad[ref]; refBad && bad[id] == "" {
					bad[id] = fmt.Sprintf("refers to correlation %q, which is refused", ref)
				}
				d = max(d, sub+1)
			}
		}
		color[id] = black
		c.Depth = d
		if d > MaxChainDepth && bad[id] == "" {
			bad[id] = fmt.Sprintf("correlation chain is %d deep, more than %d", d, MaxChainDepth)
		}
		return d
	}
	for _, c := range p.Correlations {
		if bad[c.ID] == "" {
			visit(c.ID)
		}
	}
	p.Correlations = slices.DeleteFunc(p.Correlations, func(c *Correlation) bool {
		if reason, ok := bad[c.ID]; ok {
			p.refuse(c.File, c.Line, &c.Meta, errors.New(reason))
			return true
		}
		return false
	})
}
