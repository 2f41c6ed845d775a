package query

import (
	"errors"
	"strings"
	"testing"
)

const sampleEvent = `{"uuid":"u1","published":"2024-08-13T15:58:20.353Z","eventType":"user.session.start","version":"0","severity":"INFO",
"legacyEventType":"core.user_auth.login_success","displayMessage":"User login to Okta",
"actor":{"id":"00u1","type":"User","alternateId":"jane.doe@example.com","displayName":"Jane Doe","detailEntry":null},
"client":{"ipAddress":"184.73.186.14","zone":"null","userAgent":{"browser":"CHROME"},"geographicalContext":{"city":"San Francisco","postalCode":"94107","geolocation":{"lat":37.77,"lon":-122.41}}},
"outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},
"target":[{"id":"A","type":"AppInstance","alternateId":"Salesforce"},{"id":"B","type":"User","alternateId":"bob@example.com"}],
"transaction":{"id":"XOxBw-2JIRnCFd0gG0GjHAAABjY","type":"WEB","detail":{"requestApiTokenId":"00T94e3cn9kSEO3c51s5"}},
"debugContext":{"debugData":{"requestUri":"/api/v1/authn","url":"/api/v1/authn?x=1","threatSuspected":"false"}},
"authenticationContext":{"authenticationStep":0,"externalSessionId":null,"interface":""},
"securityContext":{"asNumber":14618,"isProxy":false,"domain":"amazonaws.com"},
"request":{"ipChain":[]}}`

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		filter string
		want   bool
	}{
		// Okta's documented examples.
		{`eventType eq "user.session.start" and outcome.result eq "FAILURE"`, true},
		{`client.ipAddress eq "184.73.186.14"`, true},
		{`eventType sw "event_hook"`, false},
		{`eventType co "session"`, true},
		{`eventType ew "token"`, false},
		{`eventType ew "start"`, true},
		{`transaction.detail.requestApiTokenId eq "00T94e3cn9kSEO3c51s5"`, true},
		// eq / ne, case of values and operators.
		{`eventType eq "USER.SESSION.START"`, false},
		{`eventType EQ "user.session.start"`, true},
		{`eventType Eq "user.session.start" AND outcome.result Ne "SUCCESS"`, true},
		{`eventType ne "user.session.start"`, false},
		{`device.id ne "x"`, true},
		{`device eq null`, true},
		{`actor.detailEntry eq null`, true},
		{`actor.id eq null`, false},
		// sw co ew on nested and escaped strings.
		{`actor.alternateId sw "jane."`, true},
		{`actor.alternateId ew "@example.com"`, true},
		{`actor.displayName co "e D"`, true},
		{`actor.displayName co "e d"`, false},
		{`displayMessage eq "User login to Okta"`, true},
		// pr.
		{`actor pr`, true},
		{`device pr`, false},
		{`authenticationContext.interface pr`, false},
		{`authenticationContext.externalSessionId pr`, false},
		{`request.ipChain pr`, false},
		{`debugContext.debugData pr`, true},
		{`securityContext.isProxy pr`, true},
		// gt ge lt le: numbers, strings, dates.
		{`securityContext.asNumber gt 14617`, true},
		{`securityContext.asNumber ge 14618`, true},
		{`securityContext.asNumber lt 14618`, false},
		{`securityContext.asNumber le 14618.0`, true},
		{`client.geographicalContext.geolocation.lon lt -100`, true},
		{`severity gt "ERROR"`, true},
		{`severity lt "DEBUG"`, false},
		{`client.geographicalContext.postalCode ge "94107"`, true},
		{`securityContext.isProxy eq false`, true},
		{`securityContext.isProxy eq true`, false},
		{`authenticationContext.authenticationStep eq 0`, true},
		{`securityContext.asNumber eq "14618"`, false},
		// Arrays: any element, and different elements per comparison.
		{`target.id eq "A"`, true},
		{`target.id eq "A" and target.id eq "B"`, true},
		{`target.id eq "C"`, false},
		{`target.type eq "User" and target.alternateId sw "bob"`, true},
		{`target pr`, true},
		// and / or / not / parentheses and precedence.
		{`eventType eq "x" or eventType eq "user.session.start"`, true},
		{`eventType eq "x" or eventType eq "y" and outcome.result eq "FAILURE"`, false},
		{`(eventType eq "x" or eventType eq "user.session.start") and outcome.result eq "FAILURE"`, true},
		{`eventType eq "user.session.start" or eventType eq "y" and outcome.result eq "SUCCESS"`, true},
		{`not eventType eq "user.session.start"`, false},
		{`not (outcome.result eq "SUCCESS")`, true},
		{`NOT not actor pr`, true},
		{`((((actor.id eq "00u1"))))`, true},
		{` eventType  eq   "user.session.start" `, true},
		{`debugContext.debugData.url sw "/api"`, true},
		{`debugContext.debugData.threatSuspected eq "false"`, true},
		{``, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("parse: got %v, want no error", err)
			}
			if got := f.Match([]byte(sampleEvent)); got != tt.want {
				t.Fatalf("match: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		filter   string
		wantCode string
		wantText string
	}{
		{`display_message eqq "Create okta user"`, codeInvalidFilter, "field is not valid: display_message at position 0"},
		{`displayMessage eqq "Create okta user"`, codeInvalidFilter, "Unrecognized attribute operator 'eqq' at position 15. Expected: eq,ne,co,sw,ew,pr,gt,ge,lt,le"},
		{`some_invalid_field eq "x"`, codeInvalidFilter, "field is not valid: some_invalid_field"},
		{`published gt "2024-01-01T00:00:00Z"`, codeInvalidFilter, "field is not valid: published at position 0"},
		{`target[type eq "User"]`, codeInvalidFilter, "Complex attribute filters ('[ ]') are not supported at position 6"},
		{`target.changeDetails.to eq "x"`, codeInvalidFilter, "field is not valid: target.changeDetails.to"},
		{`debugContext.debugData.url co "x"`, codeUnsupportedOp, "The supplied combination of operator and field is not currently supported. Operator: co, Field: debugContext.debugData.url"},
		{`debugContext.debugData.requestUri co "x"`, codeUnsupportedOp, "Operator: co, Field: debugContext.debugData.requestUri"},
		{`eventType eq`, codeInvalidFilter, "Unexpected end of filter at position 12"},
		{`eventType eq "x`, codeInvalidFilter, "Unterminated string at position 13"},
		{`eventType eq "x" and`, codeInvalidFilter, "Unexpected end of filter at position 20"},
		{`eventType eq "x" xor eventType eq "y"`, codeInvalidFilter, "Unexpected token 'xor' at position 17"},
		{`(eventType eq "x"`, codeInvalidFilter, "Unexpected end of filter at position 17. Expected: ')'"},
		{`eventType eq "x")`, codeInvalidFilter, "Unexpected token ')' at position 16"},
		{`eventType sw 5`, codeInvalidFilter, "Operator 'sw' needs a string value"},
		{`eventType gt true`, codeInvalidFilter, "Operator 'gt' needs a string, date or number value"},
		{`eventType eq banana`, codeInvalidFilter, "Invalid value 'banana' at position 13"},
		{`eventType eq "x" & actor pr`, codeInvalidFilter, "Unexpected token '&' at position 17"},
		{`eventType eq "x" or ~`, codeInvalidFilter, "Invalid character ~ at position 20"},
		{`and`, codeInvalidFilter, "field is not valid: and"},
		{`actor..id eq "x"`, codeInvalidFilter, "field is not valid: actor..id"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := ParseFilter(tt.filter)
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FilterError", err)
			}
			if fe.Code != tt.wantCode {
				t.Fatalf("code: got %s, want %s", fe.Code, tt.wantCode)
			}
			if !strings.Contains(fe.Error(), tt.wantText) {
				t.Fatalf("text: got %q, want it to contain %q", fe.Error(), tt.wantText)
			}
		})
	}
}

func TestKeywords(t *testing.T) {
	tests := []struct {
		q       string
		want    bool
		wantErr string
	}{
		{"San Francisco", true, ""},
		{"san francisco", true, ""},
		{"Jane Doe", true, ""},
		{"jane.doe@example.com", true, ""},
		{"amazonaws.com", true, ""},
		{"XOxBw", true, ""},
		{"2JIRnCFd0gG0GjHAAABjY", true, ""},
		{"XOxBw-2JIRnCFd0gG0GjHAAABjY", true, ""},
		{"xoxbw-2jirncfd0gg0gjhaaabjy", true, ""},
		{"authn", true, ""},
		{"api", true, ""},
		{"14618", true, ""},
		{"Fran", false, ""},
		{"San Jose", false, ""},
		{"login", true, ""},
		{"logout", false, ""},
		{"", true, ""},
		{"a b c d e f g h i j", false, ""},
		{"a b c d e f g h i j k", false, "more than 10 items"},
		{strings.Repeat("x", 41), false, "longer than 40 characters"},
		{strings.Repeat("é", 40), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			k, err := ParseKeywords(tt.q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := k.Match([]byte(sampleEvent)); got != tt.want {
				t.Fatalf("match: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLookupEscapes(t *testing.T) {
	ev := []byte(`{"a\u0062":{"c":"x\"y\\z\u00e9"},"arr":[[{"k":1}],{"k":2}]}`)
	var got []string
	lookup(ev, []string{"ab", "c"}, func(v rawValue) { got = append(got, v.text()) })
	if len(got) != 1 || got[0] != "x\"y\\zé" {
		t.Fatalf("got %q, want [x\"y\\zé]", got)
	}
	got = nil
	lookup(ev, []string{"arr", "k"}, func(v rawValue) { got = append(got, v.text()) })
	if strings.Join(got, ",") != "1,2" {
		t.Fatalf("got %q, want [1 2]", got)
	}
}

// TestUnquote pins how string values decode: stored events' JSON escapes,
// and filter strings strconv.Unquote refuses (JSON's \/, surrogate pairs,
// and escapes neither knows, which keep their letter).
func TestUnquote(t *testing.T) {
	tests := []struct{ lit, want string }{
		{`""`, ""},
		{`"plain"`, "plain"},
		{`"x\"y\\z\u00e9\/"`, "x\"y\\zé/"},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t"},
		{`"\ud83d\ude00!"`, "😀!"},
		{`"\ud83d!"`, "\uFFFD!"},
		{`"a\qb"`, "aqb"},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			if got := unquote([]byte(tt.lit)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	f, err := ParseFilter(`displayMessage eq "a\/b \ud83d\ude00"`)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match([]byte(`{"displayMessage":"a/b 😀"}`)) || !f.Match([]byte(`{"displayMessage":"a\/b \ud83d\ude00"}`)) {
		t.Errorf("filter %s: got no match, want a match for both spellings", f)
	}
}
