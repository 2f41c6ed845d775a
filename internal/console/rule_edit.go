package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
)

// The native rule form: a new rule of the org, or an edit of one the org
// uploaded. The form's fields become one native rule document (YAML:
// Sigma's metadata keys, the EventBridge pattern under match, an optional
// correlation block, suppress), uploaded through
// POST /api/v1/detections/rules as the signed-in identity: the API's
// loader checks it (a refusal names the line of the document, which the
// page then shows numbered), stores it for the org and audits it. The
// pattern is edited in the filter editor the log streams use, with its
// live preview.

// ruleForm is the native rule form's content.
type ruleForm struct {
	// Edit: an existing uploaded rule (its id is fixed).
	Edit        bool
	ID          string
	Title       string
	Name        string
	Level       string
	Description string
	Author      string
	Product     string
	Service     string
	// Match is the EventBridge pattern (JSON).
	Match string
	// Correlation is the correlation block (YAML), empty: none.
	Correlation string
	SuppressFor string
	// SuppressBy is a comma-separated list of fields.
	SuppressBy      string
	SuppressSummary bool
	// Extra holds the document's other top-level keys (YAML), kept as
	// written: tags, references, falsepositives, firstSeen, ...
	Extra string
	Org   string
	// Levels are the level choices.
	Levels []string
	// YAML is the document sent, numbered, shown with a refusal.
	YAML []numberedLine
}

// numberedLine is a line of the uploaded document.
type numberedLine struct {
	N    int
	Text string
}

// ruleLevels are Sigma's levels.
var ruleLevels = []string{"informational", "low", "medium", "high", "critical"}

// formKeys are the top-level keys the form's fields write.
var formKeys = []string{"title", "id", "name", "level", "description", "author", "logsource", "match", "correlation", "suppress"}

func (c *Console) ruleNew(w http.ResponseWriter, rc *reqCtx) {
	f := ruleForm{ID: uuid.NewString(), Level: "medium", Author: rc.who.Name, Product: "okta", SuppressFor: "1h",
		Org: orgParam(rc), Levels: ruleLevels, Match: rc.r.URL.Query().Get("pattern")}
	c.render(w, rc.r, "detections-rule-edit", rc, page{Title: "New native rule", Nav: "detections", Data: f})
}

func (c *Console) ruleEditPage(w http.ResponseWriter, rc *reqCtx) {
	org, id := orgParam(rc), rc.r.PathValue("id")
	f, err := c.editableRule(rc, org, id)
	if err != nil {
		c.renderAPIError(w, rc, "error", err, page{Title: "Edit rule", Nav: "detections",
			Data: map[string]any{"Back": withOrg("/console/detections/rules/"+url.PathEscape(id), org)}})
		return
	}
	c.render(w, rc.r, "detections-rule-edit", rc, page{Title: "Edit rule " + firstOf(f.Title, f.ID), Nav: "detections", Data: f})
}

// editableRule reads org's uploaded native rule id into the form; any
// other rule is refused (pack rules are configuration).
func (c *Console) editableRule(rc *reqCtx, org, id string) (ruleForm, error) {
	var rule detectionRule
	if _, err := c.call(rc, http.MethodGet, withOrg("/api/v1/detections/rules/"+url.PathEscape(id), org), nil, &rule); err != nil {
		return ruleForm{}, err
	}
	if rule.Pack != "uploaded" || rule.Format != "native" || rule.Text == "" {
		return ruleForm{}, &apiError{Code: "E0000001", Summary: "Api validation failed: rule",
			Causes: []string{"only native rules uploaded by the org are edited here; rule " + id + " comes from pack " + rule.Pack + " (" + rule.Format + ")"}}
	}
	f, err := formOf(rule.Text)
	if err != nil {
		return ruleForm{}, &apiError{Summary: "The rule's text could not be read: " + err.Error()}
	}
	f.Edit, f.Org, f.Levels = true, org, ruleLevels
	return f, nil
}

// formOf fills the form from a native rule document.
func formOf(text string) (ruleForm, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return ruleForm{}, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return ruleForm{}, fmt.Errorf("not a mapping")
	}
	var f ruleForm
	extra := &yaml.Node{Kind: yaml.MappingNode}
	top := doc.Content[0]
	// The form's text inputs, each a scalar of the document.
	scalars := map[string]*string{"title": &f.Title, "id": &f.ID, "name": &f.Name, "level": &f.Level,
		"description": &f.Description, "author": &f.Author}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch {
		case scalars[k.Value] != nil && v.Kind == yaml.ScalarNode:
			*scalars[k.Value] = v.Value
		case k.Value == "logsource" && onlyKeys(v, "product", "service"):
			f.Product, f.Service = mapValue(v, "product"), mapValue(v, "service")
		case k.Value == "match":
			var m any
			if err := v.Decode(&m); err != nil {
				return f, fmt.Errorf("match: %w", err)
			}
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return f, fmt.Errorf("match: %w", err)
			}
			f.Match = string(b)
		case k.Value == "correlation":
			b, err := yaml.Marshal(blockStyle(v))
			if err != nil {
				return f, fmt.Errorf("correlation: %w", err)
			}
			f.Correlation = string(b)
		case k.Value == "suppress" && onlyKeys(v, "for", "by", "summary"):
			f.SuppressFor = mapValue(v, "for")
			for j := 0; j+1 < len(v.Content); j += 2 {
				switch val := v.Content[j+1]; v.Content[j].Value {
				case "by":
					var by []string
					if val.Decode(&by) == nil {
						f.SuppressBy = strings.Join(by, ", ")
					} else {
						f.SuppressBy = val.Value
					}
				case "summary":
					f.SuppressSummary = val.Value == "true"
				}
			}
		default:
			extra.Content = append(extra.Content, k, v)
		}
	}
	if len(extra.Content) > 0 {
		b, err := yaml.Marshal(blockStyle(extra))
		if err != nil {
			return f, err
		}
		f.Extra = string(b)
	}
	return f, nil
}

// onlyKeys reports whether v is a mapping of scalars and sequences with
// no key but these.
func onlyKeys(v *yaml.Node, keys ...string) bool {
	if v.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if !slices.Contains(keys, v.Content[i].Value) || v.Content[i+1].Kind == yaml.MappingNode {
			return false
		}
	}
	return true
}

// mapValue is the scalar value of key in mapping v ("" without one).
func mapValue(v *yaml.Node, key string) string {
	for i := 0; i+1 < len(v.Content); i += 2 {
		if v.Content[i].Value == key && v.Content[i+1].Kind == yaml.ScalarNode {
			return v.Content[i+1].Value
		}
	}
	return ""
}

// blockStyle clears the flow and quoting styles of n's tree (the encoder
// quotes what needs it), so it prints as block YAML.
func blockStyle(n *yaml.Node) *yaml.Node {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
	return n
}

// ruleFormFrom reads the posted form.
func ruleFormFrom(rc *reqCtx) ruleForm {
	p := rc.r.PostForm
	t := func(k string) string { return strings.TrimSpace(p.Get(k)) }
	return ruleForm{Edit: p.Get("mode") == "edit", ID: t("id"), Title: t("title"), Name: t("name"), Level: t("level"),
		Description: t("description"), Author: t("author"), Product: t("product"), Service: t("service"),
		Match: t("match"), Correlation: p.Get("correlation"), SuppressFor: t("suppressFor"), SuppressBy: t("suppressBy"),
		SuppressSummary: p.Get("suppressSummary") == "on", Extra: p.Get("extra"), Org: orgParam(rc), Levels: ruleLevels}
}

// document builds the native rule document of the form; causes are what
// keeps it from being one.
func (f ruleForm) document() ([]byte, []string) {
	var causes []string
	top := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) {
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	str := func(v string) *yaml.Node {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		if strings.Contains(v, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	}
	for _, kv := range [][2]string{{"title", f.Title}, {"id", f.ID}, {"name", f.Name}, {"description", f.Description},
		{"author", f.Author}, {"level", f.Level}} {
		if kv[1] != "" {
			add(kv[0], str(strings.ReplaceAll(kv[1], "\r\n", "\n")))
		}
	}
	if f.Product != "" || f.Service != "" {
		ls := &yaml.Node{Kind: yaml.MappingNode}
		for _, kv := range [][2]string{{"product", f.Product}, {"service", f.Service}} {
			if kv[1] != "" {
				ls.Content = append(ls.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: kv[0]}, str(kv[1]))
			}
		}
		add("logsource", ls)
	}
	switch {
	case f.Match == "":
		causes = append(causes, "match: the event pattern is required")
	case !json.Valid([]byte(f.Match)):
		causes = append(causes, "match: the event pattern is not valid JSON")
	default:
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(f.Match), &n); err != nil || len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			causes = append(causes, "match: the event pattern must be a JSON object")
		} else {
			add("match", blockStyle(n.Content[0]))
		}
	}
	if strings.TrimSpace(f.Correlation) != "" {
		if n, err := yamlMapping(f.Correlation); err != nil {
			causes = append(causes, "correlation: "+err.Error())
		} else {
			add("correlation", n)
		}
	}
	if f.SuppressFor != "" || f.SuppressBy != "" || f.SuppressSummary {
		s := &yaml.Node{Kind: yaml.MappingNode}
		if f.SuppressFor != "" {
			s.Content = append(s.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "for"}, str(f.SuppressFor))
		}
		if f.SuppressBy != "" {
			by := &yaml.Node{Kind: yaml.SequenceNode}
			for _, b := range strings.Split(f.SuppressBy, ",") {
				if b = strings.TrimSpace(b); b != "" {
					by.Content = append(by.Content, str(b))
				}
			}
			s.Content = append(s.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "by"}, by)
		}
		if f.SuppressSummary {
			s.Content = append(s.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "summary"}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		}
		add("suppress", s)
	}
	if strings.TrimSpace(f.Extra) != "" {
		n, err := yamlMapping(f.Extra)
		if err != nil {
			causes = append(causes, "more keys: "+err.Error())
		} else {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i].Value; slices.Contains(formKeys, k) {
					causes = append(causes, "more keys: "+k+" is set by the form's own field")
					continue
				}
				top.Content = append(top.Content, n.Content[i], n.Content[i+1])
			}
		}
	}
	if len(causes) > 0 {
		return nil, causes
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(top); err != nil {
		return nil, []string{err.Error()}
	}
	_ = enc.Close()
	return buf.Bytes(), nil
}

// yamlMapping parses a YAML mapping (block style kept as typed).
func yamlMapping(s string) (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("must be a YAML mapping (key: value lines)")
	}
	return blockStyle(n.Content[0]), nil
}

// numbered splits a document into numbered lines.
func numbered(doc []byte) []numberedLine {
	var out []numberedLine
	for i, l := range strings.Split(strings.TrimRight(string(doc), "\n"), "\n") {
		out = append(out, numberedLine{N: i + 1, Text: l})
	}
	return out
}

// ruleSave uploads the form's rule (a new one, or a new version of one
// the org uploaded) and shows the rule's page; a refusal shows the API's
// causes next to the form with the document they point into.
func (c *Console) ruleSave(w http.ResponseWriter, rc *reqCtx) {
	f := ruleFormFrom(rc)
	title := "New native rule"
	if f.Edit {
		title = "Edit rule " + firstOf(f.Title, f.ID)
	}
	fail := func(status int, e *apiError) {
		c.renderStatus(w, rc.r, status, "detections-rule-edit", rc, page{Title: title, Nav: "detections", Error: e, Data: f})
	}
	doc, causes := f.document()
	if len(causes) > 0 {
		fail(http.StatusBadRequest, &apiError{Code: "E0000001", Summary: "Api validation failed: rule", Causes: causes})
		return
	}
	f.YAML = numbered(doc)
	// A new rule does not replace one of the org's (the API would).
	path := withOrg("/api/v1/detections/rules/"+url.PathEscape(f.ID), f.Org)
	if f.ID != "" {
		var have detectionRule
		_, err := c.call(rc, http.MethodGet, path, nil, &have)
		switch {
		case err == nil && !f.Edit:
			fail(http.StatusBadRequest, &apiError{Code: "E0000001", Summary: "Api validation failed: rule",
				Causes: []string{"id: rule " + f.ID + " exists already; edit it from its page, or choose another id"}})
			return
		case err == nil && (have.Pack != "uploaded" || have.Format != "native"):
			fail(http.StatusBadRequest, &apiError{Code: "E0000001", Summary: "Api validation failed: rule",
				Causes: []string{"id: rule " + f.ID + " comes from pack " + have.Pack + " and is not edited here"}})
			return
		case err != nil && f.Edit:
			fail(apiStatus(err), asAPIError(err))
			return
		}
	}
	var out detectionRule
	if _, err := c.callBody(rc, http.MethodPost, withOrg("/api/v1/detections/rules", f.Org), "application/yaml", doc, &out); err != nil {
		fail(apiStatus(err), asAPIError(err))
		return
	}
	notice := "Rule created"
	if f.Edit {
		notice = "Rule saved"
	}
	http.Redirect(w, rc.r, addParam(withOrg("/console/detections/rules/"+url.PathEscape(out.ID), f.Org), "notice", notice), http.StatusSeeOther)
}
