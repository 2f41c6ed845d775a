package source

import (
	"encoding/json"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/kvstore"
)

// TestOperatorSets (httpapi.ByOperator, which log streams share): a
// source's settings are the operator's when an all-orgs token sets them,
// or when a tenant's change leaves the operator's settings as they were.
func TestOperatorSets(t *testing.T) {
	op := auth.Token{Org: auth.AllOrgs}
	tenant := auth.Token{Org: "acme"}
	old := Definition{Header: kvstore.Header{ID: "s1", Settings: json.RawMessage(`{"baseUrl":"http://127.0.0.1:9"}`)}, Operator: true}
	tests := []struct {
		name     string
		tok      auth.Token
		old      Definition
		settings string
		want     bool
	}{
		{"operator creates", op, Definition{}, `{}`, true},
		{"tenant creates", tenant, Definition{}, `{}`, false},
		{"tenant keeps the operator's settings", tenant, old, `{"baseUrl": "http://127.0.0.1:9"}`, true},
		{"tenant changes them", tenant, old, `{"baseUrl":"http://127.0.0.1:10"}`, false},
		{"tenant keeps a tenant's settings", tenant, Definition{Header: kvstore.Header{ID: "s2", Settings: old.Settings}}, `{"baseUrl":"http://127.0.0.1:9"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpapi.ByOperator(tt.tok, tt.old.Operator, tt.old.Settings, json.RawMessage(tt.settings)); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
