package query

import (
	"errors"
	"testing"

	"github.com/auditstream/auditstream/internal/detect/field"
)

func TestDetectionFilterMatch(t *testing.T) {
	const ev = `{"eventType":"user.session.start","outcome":{"result":"FAILURE"},
"target":[{"id":"A","type":"AppInstance","displayName":"Okta Admin Console","detailEntry":{"MethodTypeUsed":"Password"}},{"id":"B","type":"User","displayName":"Bob"}],
"securityContext":{"asNumber":394089,"isProxy":true},"debugContext":{"debugData":{"threatSuspected":"false","logOnlySecurityData":{"behaviors":{"New Device":"POSITIVE"}},"n":"12"}},
"client":{"zone":null}}`
	tests := []struct {
		filter string
		want   bool
	}{
		// in [...]
		{`eventType in ["user.session.start", "x"]`, true},
		{`eventType in ["x","y"]`, false},
		{`securityContext.asNumber in [1, 394089]`, true},
		// numeric index segments
		{`target.0.type eq "AppInstance"`, true},
		{`target.1.type eq "AppInstance"`, false},
		{`target.1.displayName eq "Bob"`, true},
		{`target.type eq "User"`, true},
		// scalar coercion
		{`securityContext.isProxy eq "true"`, true},
		{`securityContext.isProxy eq true`, true},
		{`securityContext.isProxy eq "TRUE"`, true},
		{`securityContext.isProxy eq false`, false},
		{`securityContext.asNumber eq "394089"`, true},
		{`securityContext.asNumber eq 394089`, true},
		{`securityContext.asNumber eq 394089.0`, true},
		{`debugContext.debugData.threatSuspected eq false`, true},
		{`debugContext.debugData.n eq 12`, true},
		{`debugContext.debugData.n gt 9`, true},
		{`securityContext.asNumber gt "1000"`, true},
		// case-insensitive segments, exact first; values stay case-sensitive
		{`EventType eq "user.session.start"`, true},
		{`target.detailEntry.methodTypeUsed eq "Password"`, true},
		{`eventType eq "USER.SESSION.START"`, false},
		// objects: co on the compact JSON text, eq never
		{`debugContext.debugData.logOnlySecurityData co "\"New Device\":\"POSITIVE\""`, true},
		{`debugContext.debugData.logOnlySecurityData eq "{}"`, false},
		// null, pr, ne, not
		{`client.zone eq null`, true},
		{`device.id eq null`, true},
		{`client.zone pr`, false},
		{`target pr`, true},
		{`outcome.result ne "SUCCESS"`, true},
		{`not (eventType sw "user.") or target.id eq "B"`, true},
		{`eventType co "session" AND not outcome.result eq "FAILURE"`, false},
		// published is accepted (it is an event field for rules)
		{`published pr`, false},
	}
	var e field.Event
	if err := e.Reset([]byte(ev)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		f, err := ParseDetectionFilter(tt.filter, DetectionOptions{})
		if err != nil {
			t.Errorf("%s: %v", tt.filter, err)
			continue
		}
		if got := f.Match(&e); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestDetectionFilterAliasesAndErrors(t *testing.T) {
	var e field.Event
	if err := e.Reset([]byte(`{"eventType":"a","outcome":{"result":"FAILURE"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseDetectionFilter(`result eq "FAILURE"`, DetectionOptions{}); err == nil {
		t.Fatal("result without an alias parsed")
	}
	f, err := ParseDetectionFilter(`result eq "FAILURE"`, DetectionOptions{Aliases: map[string]string{"result": "outcome.result"}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(&e) {
		t.Error("aliased result did not match outcome.result")
	}
	if got := f.Aliased(); len(got) != 1 || got[0] != "result → outcome.result" {
		t.Errorf("got aliased %q", got)
	}
	for _, bad := range []string{``, `eventType in "a"`, `eventType in ["a" "b"]`, `eventType in ["a",`, `eventType xx "a"`, `bogus eq "a"`, `eventType co 3`, `eventType eq "a" )`} {
		var fe *FilterError
		if _, err := ParseDetectionFilter(bad, DetectionOptions{}); !errors.As(err, &fe) {
			t.Errorf("%q: got %v, want a *FilterError", bad, err)
		}
	}
}

func TestDetectionFilterEventTypes(t *testing.T) {
	tests := []struct {
		filter string
		want   []string
	}{
		{`eventType eq "A.b" and outcome.result eq "x"`, []string{"a.b"}},
		{`eventType in ["b","a"] AND debugContext.y eq "1"`, []string{"a", "b"}},
		{`(eventType eq "a" or eventType eq "b")`, []string{"a", "b"}},
		{`eventType eq "a" or outcome.result eq "b"`, nil},
		{`eventType sw "system.log_stream"`, nil},
		{`not eventType eq "a"`, nil},
	}
	for _, tt := range tests {
		f, err := ParseDetectionFilter(tt.filter, DetectionOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.filter, err)
		}
		got := f.EventTypes()
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %q, want %q", tt.filter, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: got %q, want %q", tt.filter, got, tt.want)
			}
		}
	}
}

// The query API's dialect refuses what the detection dialect adds.
func TestQueryFilterUnchangedByDialect(t *testing.T) {
	for _, src := range []string{`eventType in ["a"]`, `result eq "FAILURE"`} {
		if _, err := ParseFilter(src); err == nil {
			t.Errorf("ParseFilter(%q) accepted it", src)
		}
	}
	f, err := ParseFilter(`securityContext.isProxy eq "true"`)
	if err != nil {
		t.Fatal(err)
	}
	if f.Match([]byte(`{"securityContext":{"isProxy":true}}`)) {
		t.Error("query dialect coerced a string to a boolean")
	}
}
