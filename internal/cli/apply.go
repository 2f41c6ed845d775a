package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/auditstream/auditstream/internal/client"
	"go.yaml.in/yaml/v3"
)

// maxApplyFile bounds the file apply reads; stream definitions are small.
const maxApplyFile = 16 << 20

// streamSpec is one stream of an apply file.
type streamSpec struct {
	// Name identifies the stream: apply replaces the stream of this name
	// or creates it.
	Name string `json:"name"`
	// Type is the destination type, e.g. http.
	Type string `json:"type"`
	// Settings are the destination's settings.
	Settings json.RawMessage `json:"settings"`
	// Filter is an optional EventBridge event pattern.
	Filter json.RawMessage `json:"filter,omitempty"`
	// Status, when set, is ACTIVE or INACTIVE, and the stream is activated
	// or deactivated to match.
	Status string `json:"status,omitempty"`
}

// loadSpecs reads the apply file name ("-" for stdin).
func loadSpecs(name string, stdin io.Reader) ([]streamSpec, error) {
	data, name, err := readInput(name, stdin)
	if err != nil {
		return nil, err
	}
	specs, err := parseSpecs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return specs, nil
}

// readInput reads the file name, or stdin when name is "-", refusing
// more than maxApplyFile bytes. It returns the name to report, "stdin"
// for stdin.
func readInput(name string, stdin io.Reader) ([]byte, string, error) {
	r := stdin
	if name == "-" {
		name = "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, name, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxApplyFile+1))
	if err != nil {
		return nil, name, err
	}
	if len(data) > maxApplyFile {
		return nil, name, fmt.Errorf("%s: larger than %d bytes", name, maxApplyFile)
	}
	return data, name, nil
}

// parseSpecs reads YAML or JSON holding one stream, a list of streams or
// a mapping {"streams": [...]}; YAML may hold several documents. Unknown
// fields are errors, and every problem is reported at once.
func parseSpecs(data []byte) ([]streamSpec, error) {
	docs, err := decodeDocs(data)
	if err != nil {
		return nil, err
	}
	var items []any
	for _, doc := range docs {
		switch d := doc.(type) {
		case nil:
		case []any:
			items = append(items, d...)
		case map[string]any:
			if list, ok := d["streams"]; ok {
				if len(d) != 1 {
					return nil, errors.New(`a "streams:" mapping takes no other keys`)
				}
				l, ok := list.([]any)
				if !ok {
					return nil, errors.New(`"streams" must be a list`)
				}
				items = append(items, l...)
			} else {
				items = append(items, d)
			}
		default:
			return nil, fmt.Errorf("want a stream, a list of streams or a streams: mapping, got %T", doc)
		}
	}
	if len(items) == 0 {
		return nil, errors.New("no streams")
	}

	var (
		specs []streamSpec
		errs  []error
		names = map[string]int{}
	)
	for i, item := range items {
		where := fmt.Sprintf("stream %d", i+1)
		spec, err := decodeSpec(item)
		if spec.Name != "" {
			where = fmt.Sprintf("stream %d (%s)", i+1, spec.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		for _, p := range spec.problems() {
			errs = append(errs, fmt.Errorf("%s: %s", where, p))
		}
		if prev, ok := names[spec.Name]; ok && spec.Name != "" {
			errs = append(errs, fmt.Errorf("%s: name also used by stream %d", where, prev))
		}
		names[spec.Name] = i + 1
		specs = append(specs, spec)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return specs, nil
}

// decodeDocs decodes JSON (when data starts like JSON) or YAML documents
// into plain values with string-keyed maps.
func decodeDocs(data []byte) ([]any, error) {
	var (
		dec interface{ Decode(v any) error }
		// convert makes a decoded value plain.
		convert = func(v any) (any, error) { return v, nil }
		format  = "JSON"
	)
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		jd := json.NewDecoder(bytes.NewReader(trimmed))
		jd.UseNumber() // keep numbers exactly as written
		dec = jd
	} else {
		dec = yaml.NewDecoder(bytes.NewReader(data))
		convert = func(v any) (any, error) { return plain(v, "") }
		format = "YAML"
	}
	var docs []any
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			return docs, nil
		} else if err != nil {
			return nil, fmt.Errorf("parse %s: %w", format, err)
		}
		v, err := convert(v)
		if err != nil {
			return nil, err
		}
		docs = append(docs, v)
	}
}

// plain turns YAML's decoded values into ones encoding/json takes: maps
// must have string keys.
func plain(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p, err := plain(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			x[k] = p
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: key %v is not a string", strings.TrimPrefix(path, "."), k)
			}
			m[ks] = e
		}
		return plain(m, path)
	case []any:
		for i, e := range x {
			p, err := plain(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			x[i] = p
		}
		return x, nil
	default:
		return v, nil
	}
}

// decodeSpec decodes one item strictly.
func decodeSpec(item any) (streamSpec, error) {
	var spec streamSpec
	if _, ok := item.(map[string]any); !ok {
		return spec, fmt.Errorf("want a mapping, got %T", item)
	}
	b, err := json.Marshal(item)
	if err != nil {
		return spec, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		// Still report the name, if it was readable.
		var named struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(b, &named)
		spec.Name = named.Name
		return spec, err
	}
	return spec, nil
}

// problems lists what is wrong with s.
func (s *streamSpec) problems() []string {
	var p []string
	if s.Name == "" {
		p = append(p, "name is missing")
	}
	if s.Type == "" {
		p = append(p, "type is missing")
	}
	if isNull(s.Settings) {
		p = append(p, "settings are missing")
	} else if s.Settings[0] != '{' {
		p = append(p, "settings must be a mapping")
	}
	if !isNull(s.Filter) && s.Filter[0] != '{' {
		p = append(p, "filter must be a mapping (an event pattern)")
	}
	if isNull(s.Filter) {
		s.Filter = nil
	}
	switch strings.ToUpper(s.Status) {
	case "":
	case client.StatusActive, client.StatusInactive:
		s.Status = strings.ToUpper(s.Status)
	default:
		p = append(p, fmt.Sprintf("status %q: want ACTIVE or INACTIVE", s.Status))
	}
	return p
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// runApply creates or replaces each stream of the file by name, then
// activates or deactivates it when the file gives a status. It stops at
// the first API error; the streams before it have been applied.
func runApply(ctx context.Context, c *client.Client, inv resInv) error {
	specs, err := loadSpecs(inv.file, inv.stdin)
	if err != nil {
		return err
	}
	existing, err := c.ListStreams(ctx)
	if err != nil {
		return err
	}
	byName := map[string][]client.Stream{}
	for _, s := range existing {
		byName[s.Name] = append(byName[s.Name], s)
	}
	var applied []client.Stream
	for _, spec := range specs {
		s, action, err := applyOne(ctx, c, spec, byName[spec.Name])
		if err != nil {
			if len(applied) > 0 {
				return fmt.Errorf("stream %q: %w (%d streams before it were applied)", spec.Name, err, len(applied))
			}
			return fmt.Errorf("stream %q: %w", spec.Name, err)
		}
		applied = append(applied, s)
		if inv.output == outputTable {
			fmt.Fprintf(inv.stdout, "%s %s (%s) %s\n", action, s.Name, s.ID, s.Status)
		}
	}
	if inv.output == outputJSON {
		return printJSON(inv.stdout, applied)
	}
	return nil
}

func applyOne(ctx context.Context, c *client.Client, spec streamSpec, matches []client.Stream) (client.Stream, string, error) {
	want := client.Stream{Type: spec.Type, Name: spec.Name, Settings: spec.Settings, Filter: spec.Filter}
	var (
		s      client.Stream
		action string
		err    error
	)
	switch len(matches) {
	case 0:
		s, err = c.CreateStream(ctx, want)
		action = "created"
	case 1:
		s, err = c.UpdateStream(ctx, matches[0].ID, want)
		action = "updated"
	default:
		return s, "", fmt.Errorf("%d streams have this name; apply needs it unique", len(matches))
	}
	if err != nil {
		return s, "", err
	}
	if spec.Status == "" || strings.EqualFold(s.Status, spec.Status) {
		return s, action, nil
	}
	if spec.Status == client.StatusActive {
		s, err = c.Activate(ctx, s.ID)
		action += ", activated"
	} else {
		s, err = c.Deactivate(ctx, s.ID)
		action += ", deactivated"
	}
	return s, action, err
}
