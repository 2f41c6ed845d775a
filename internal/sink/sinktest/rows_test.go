package sinktest

import (
	"slices"
	"testing"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

type rowAuth struct {
	Password secret.String `json:"password,omitempty"`
	User     string        `json:"user,omitempty"`
}

type rowConfig struct {
	URL   string        `json:"url"`
	Token secret.String `json:"token"`
	Auth  rowAuth       `json:"auth,omitzero"`
}

func rowOf() sink.Type {
	return sink.NewType("test", func(c rowConfig, _ sink.Deps) (rowConfig, error) { return c, nil },
		func(rowConfig, sink.Deps) (sink.Sink, error) { return nil, nil })
}

func TestLeakedSecrets(t *testing.T) {
	row := rowOf()
	if got, err := LeakedSecrets(row); err != nil || len(got) != 0 {
		t.Fatalf("derived row: got %v %v, want no leak", got, err)
	}
	// A row whose secret list misses one (as a hand-written list that a
	// new field was not added to) is caught.
	row.Secrets = slices.DeleteFunc(slices.Clone(row.Secrets), func(p string) bool { return p == "auth.password" })
	got, err := LeakedSecrets(row)
	if err != nil || !slices.Equal(got, []string{"auth.password"}) {
		t.Fatalf("row missing auth.password: got %v %v, want [auth.password]", got, err)
	}
}

func TestUnknownPaths(t *testing.T) {
	row := rowOf()
	row.Destination = []string{"url", "auth.user"}
	if got := UnknownPaths(row); len(got) != 0 {
		t.Fatalf("got %v, want none", got)
	}
	row.WriteOnce = []string{"endpoint"}
	if got := UnknownPaths(row); !slices.Equal(got, []string{"endpoint"}) {
		t.Fatalf("got %v, want [endpoint]", got)
	}
}
