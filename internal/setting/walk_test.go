package setting_test

import (
	"reflect"
	"testing"

	"github.com/auditstream/auditstream/internal/setting"
)

type settings struct {
	URL  string `json:"url" required:"true" help:"where"`
	Auth struct {
		Type string `json:"type,omitempty" help:"how"`
		Hash string `json:"hash" form:"-"`
	} `json:"auth"`
	Plain   int
	Skipped string `json:"-"`
	hidden  string
}

func TestWalk(t *testing.T) {
	var got []setting.Field
	setting.Walk(reflect.TypeFor[*settings](), func(s setting.Field) {
		s.Field = reflect.StructField{Name: s.Field.Name}
		got = append(got, s)
	})
	want := []setting.Field{
		{Path: "url", Help: "where", Required: true, Field: reflect.StructField{Name: "URL"}},
		{Path: "auth.type", Help: "how", Field: reflect.StructField{Name: "Type"}},
		{Path: "Plain", Field: reflect.StructField{Name: "Plain"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
