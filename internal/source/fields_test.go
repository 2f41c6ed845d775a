package source_test

import (
	"reflect"
	"testing"

	"github.com/auditstream/auditstream/internal/source"
)

type formSettings struct {
	URL  string `json:"url" required:"true" help:"where"`
	Auth struct {
		Type  string `json:"type" options:"A,B"`
		Token string `json:"token,omitempty"`
		Key   string `json:"key,omitempty" form:"text"`
		PEM   string `json:"pem,omitempty" form:"text"`
		Hash  string `json:"hash,omitempty" form:"-"`
	} `json:"auth"`
	Share  float64           `json:"share,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	hidden string
}

func TestFieldsOf(t *testing.T) {
	got := source.FieldsOf(formSettings{}, []string{"auth.token", "auth.pem"})
	want := []source.Field{
		{Path: "url", Kind: "string", Help: "where", Required: true},
		{Path: "auth.type", Kind: "choice", Options: []string{"A", "B"}},
		{Path: "auth.token", Kind: "secret"},
		{Path: "auth.key", Kind: "text", Multiline: true},
		{Path: "auth.pem", Kind: "secret", Multiline: true},
		{Path: "share", Kind: "number"},
		{Path: "labels", Kind: "json"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := (source.Type{}).Fields(); got != nil {
		t.Errorf("a type without settings: got %+v, want none", got)
	}
}
