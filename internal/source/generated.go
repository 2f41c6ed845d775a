package source

import (
	"encoding/json"
	"strings"

	"github.com/auditstream/auditstream/internal/jsonmap"
	"github.com/auditstream/auditstream/internal/wire"
)

// generate lets the source's type fill in the secrets in.Settings leaves
// out (Type.Generate) and returns them by dotted path; old holds the
// stored settings on update.
func (a *API) generate(in *input, old json.RawMessage) map[string]string {
	t, ok := a.Types[in.Type]
	if !ok || t.Generate == nil || len(in.Settings) == 0 {
		return nil
	}
	var generated map[string]string
	in.Settings, generated = t.Generate(in.Settings, old)
	return generated
}

// withGenerated shows the secrets the server generated in the answer that
// created them, the only time they are shown: only their hashes are kept.
func withGenerated(v wire.Source, generated map[string]string) wire.Source {
	if len(generated) == 0 {
		return v
	}
	var m map[string]any
	if json.Unmarshal(v.Settings, &m) != nil || m == nil {
		m = map[string]any{}
	}
	for path, value := range generated {
		jsonmap.Set(m, strings.Split(path, "."), value)
	}
	if b, err := json.Marshal(m); err == nil {
		v.Settings = b
	}
	return v
}
