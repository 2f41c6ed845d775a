package jsonlex

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestAppendUnescaped(t *testing.T) {
	tests := []struct {
		name string
		src  string // starts after the opening quote
		want string
		end  int // -1: bad
		bad  int
	}{
		{"plain", `abc"`, "abc", 4, -1},
		{"short escapes", `\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t", 17, -1},
		{"unicode", `\u00e9\u20AC"`, "é€", 13, -1},
		{"surrogate pair", `\ud83d\ude00"`, "😀", 13, -1},
		{"lone high surrogate", `\ud83dx"`, "\uFFFDx", 8, -1},
		{"lone low surrogate", `\ude00"`, "\uFFFD", 7, -1},
		{"high then not low", `\ud83d\u0041"`, "\uFFFDA", 13, -1},
		{"stops at the quote", `a"b"`, "a", 2, -1},
		{"bad escape", `ab\q"`, "ab", -1, 2},
		{"bad hex", `\u12g4"`, "", -1, 0},
		{"short hex", `\u12`, "", -1, 0},
		{"control byte", "a\tb\"", "a", -1, 1},
		{"unterminated", `abc`, "abc", -1, 3},
		{"backslash at the end", `ab\`, "ab", -1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, end, bad := AppendUnescaped([]byte("x"), []byte(tt.src), 0)
			if string(out) != "x"+tt.want {
				t.Errorf("out: got %q, want %q", out, "x"+tt.want)
			}
			if tt.end >= 0 && (end != tt.end || bad != -1) {
				t.Errorf("got end %d, bad %d, want end %d, bad -1", end, bad, tt.end)
			}
			if tt.end < 0 && bad != tt.bad {
				t.Errorf("bad: got %d, want %d", bad, tt.bad)
			}
		})
	}
}

// TestAppendUnescapedAgreesWithEncodingJSON checks valid strings decode as
// encoding/json decodes them, lone surrogates included.
func TestAppendUnescapedAgreesWithEncodingJSON(t *testing.T) {
	for _, lit := range []string{`""`, `"a\u0000b"`, `"\uD834\uDD1E x"`, `"\uDD1E\uD834"`, `"é\\\"/"`, `"\u004a\u004A"`} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		out, end, bad := AppendUnescaped(nil, []byte(lit), 1)
		if string(out) != want || end != len(lit) || bad != -1 {
			t.Errorf("%s: got %q (end %d, bad %d), want %q (end %d)", lit, out, end, bad, want, len(lit))
		}
	}
}

func TestHex4(t *testing.T) {
	tests := []struct {
		src  string
		want rune
		ok   bool
	}{
		{"0000", 0, true}, {"00e9", 0xe9, true}, {"ABCD", 0xabcd, true}, {"fFfF", 0xffff, true},
		{"12g4", 0, false}, {"123", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			r, ok := Hex4([]byte(tt.src), 0)
			if r != tt.want || ok != tt.ok {
				t.Errorf("got %#x, %v, want %#x, %v", r, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSkipSpace(t *testing.T) {
	tests := []struct {
		src  string
		from int
		want int
	}{
		{"", 0, 0}, {"x", 0, 0}, {" \t\r\nx", 0, 4}, {"   ", 1, 3}, {"\v x", 0, 0}, {"\x00", 0, 0}, {"a b", 1, 2},
	}
	for _, tt := range tests {
		if got := SkipSpace([]byte(tt.src), tt.from); got != tt.want {
			t.Errorf("SkipSpace(%q, %d): got %d, want %d", tt.src, tt.from, got, tt.want)
		}
	}
	for c := range 256 {
		want := c == ' ' || c == '\t' || c == '\n' || c == '\r'
		if got := IsSpace(byte(c)); got != want {
			t.Errorf("IsSpace(%#x): got %v, want %v", c, got, want)
		}
	}
}

func TestAppendArray(t *testing.T) {
	raw := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name  string
		items []string
		want  string
	}{
		{"none", nil, `x[]`},
		{"one", []string{`{"a":1}`}, `x[{"a":1}]`},
		{"several", []string{`1`, `"two"`, `{"three":[3]}`}, `x[1,"two",{"three":[3]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendArray([]byte("x"), tt.items, raw)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("got %s, want valid JSON", got[1:])
			}
		})
	}
}

func TestSkipStringAndValue(t *testing.T) {
	tests := []struct {
		in     string
		i      int
		end    int
		closed bool
	}{
		{`"abc",`, 0, 5, true},
		{`"a\"b"x`, 0, 6, true},
		{`"a\\"x`, 0, 5, true},
		{`"abc`, 0, 4, false},
		{`"ab\"`, 0, 5, false},
	}
	for _, tt := range tests {
		if end, ok := SkipString([]byte(tt.in), tt.i); end != tt.end || ok != tt.closed {
			t.Errorf("SkipString(%s): got %d %v, want %d %v", tt.in, end, ok, tt.end, tt.closed)
		}
	}
	values := []struct {
		in  string
		end int
		ok  bool
	}{
		{` {"a":[1,"]}",{"b":null}]} ,`, 26, true},
		{`[1,2]]`, 5, true},
		{`-1.5e3,`, 6, true},
		{`true}`, 4, true},
		{`"x"`, 3, true},
		{` `, 1, false},
		{`}`, 0, false},
		{`{"a":"}`, 7, false},
		{`[[1]`, 4, false},
	}
	for _, tt := range values {
		if end, ok := SkipValue([]byte(tt.in), 0); end != tt.end || ok != tt.ok {
			t.Errorf("SkipValue(%s): got %d %v, want %d %v", tt.in, end, ok, tt.end, tt.ok)
		}
	}
}

func TestMembers(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []Member
		ok   bool
	}{
		{`{}`, nil, true},
		{` { "a" : 1 , "b\u0041":{"x":[1, "}"]},"c":"s" } `, []Member{{"a", []byte("1")}, {"bA", []byte(`{"x":[1, "}"]}`)}, {"c", []byte(`"s"`)}}, true},
		{`{"a":1,}`, nil, false},
		{`{"a" 1}`, nil, false},
		{`{"a":1} x`, nil, false},
		{`[1]`, nil, false},
		{`{"a":`, nil, false},
		{`{"a":1`, nil, false},
		{``, nil, false},
	} {
		got, ok := Members([]byte(tt.in))
		if ok != tt.ok || len(got) != len(tt.want) {
			t.Errorf("%s: got %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			continue
		}
		for i := range got {
			if got[i].Key != tt.want[i].Key || string(got[i].Value) != string(tt.want[i].Value) {
				t.Errorf("%s: member %d: got %s=%s, want %s=%s", tt.in, i, got[i].Key, got[i].Value, tt.want[i].Key, tt.want[i].Value)
			}
		}
	}
}

// skipStringBytewise is SkipString as it was before the 8-byte scan: the
// reference for TestSkipStringSameAsBytewise.
func skipStringBytewise(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return i, false
}

// TestSkipStringSameAsBytewise checks the word-at-a-time SkipString
// against the byte loop on strings with quotes, backslashes (also
// doubled, also last), bytes next to them in value ('!', '#', '[', ']',
// 0xa2, 0xdc) and long runs, at every start offset and every length.
func TestSkipStringSameAsBytewise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte("ab\"\\!#[]\xa2\xdc \x00\x7f")
	for n := range 3000 {
		size := rng.IntN(40)
		b := make([]byte, size+1)
		b[0] = '"'
		for j := 1; j < len(b); j++ {
			if rng.IntN(4) == 0 {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[j] = 'a' + byte(rng.IntN(26))
			}
		}
		for start := range b {
			gotEnd, gotOK := SkipString(b, start)
			wantEnd, wantOK := skipStringBytewise(b, start)
			if gotEnd != wantEnd || gotOK != wantOK {
				t.Fatalf("case %d: SkipString(%q, %d): got %d %v, want %d %v", n, b, start, gotEnd, gotOK, wantEnd, wantOK)
			}
		}
	}
}

// FuzzSkipString compares SkipString with the byte loop on fuzzed input.
func FuzzSkipString(f *testing.F) {
	f.Add([]byte(`"abcdefgh\"ijklmnop\\"x`), 0)
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if i < 0 || i >= len(b) {
			return
		}
		gotEnd, gotOK := SkipString(b, i)
		wantEnd, wantOK := skipStringBytewise(b, i)
		if gotEnd != wantEnd || gotOK != wantOK {
			t.Fatalf("SkipString(%q, %d): got %d %v, want %d %v", b, i, gotEnd, gotOK, wantEnd, wantOK)
		}
	})
}

// BenchmarkSkipValueEvent skips a 1.4 KB Okta LogEvent (the shape of
// testdata/okta) as readers of stored events do with what they do not
// read: SkipString over every string.
func BenchmarkSkipValueEvent(b *testing.B) {
	ev := []byte(`{"actor":{"id":"00uttidj01jqL21aM1d6","type":"User","alternateId":"john.doe@example.com","displayName":"John Doe","detailEntry":null},"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36","os":"Mac OS X","browser":"CHROME"},"zone":null,"device":"Computer","id":null,"ipAddress":"10.0.0.1","geographicalContext":{"city":"New York","state":"New York","country":"United States","postalCode":"10013","geolocation":{"lat":40.3157,"lon":-74.01}}},"device":{"id":"guofdhyjex1feOgbN1d9","name":"Mac15,6","os_platform":"OSX","os_version":"14.6.0","managed":false,"registered":true,"device_integrator":null,"disk_encryption_type":"ALL_INTERNAL_VOLUMES","screen_lock_type":"BIOMETRIC","jailbreak":null,"secure_hardware_present":true},"authenticationContext":{"authenticationProvider":null,"credentialProvider":null,"credentialType":null,"issuer":null,"interface":null,"authenticationStep":0,"rootSessionId":"idxBager62CSveUkTxvgRtonA","externalSessionId":"idxBager62CSveUkTxvgRtonA"},"displayMessage":"User login to Okta","eventType":"user.session.start","outcome":{"result":"SUCCESS","reason":null},"published":"2024-08-13T15:58:20.353Z","securityContext":{"asNumber":394089,"asOrg":"ASN 0000","isp":"google","domain":null,"isProxy":false},"severity":"INFO","debugContext":{"debugData":{"requestId":"ab609228fe84ce59cdcbfa690bcce016","requestUri":"/idp/idx/authenticators/poll","url":"/idp/idx/authenticators/poll"}},"legacyEventType":"core.user_auth.login_success","transaction":{"type":"WEB","id":"ab609228fe84ce59cdcbfa690bgce016","detail":null},"uuid":"dc9fd3c0-598c-11ef-8478-2b7584bf8d5a","version":"0","request":{"ipChain":[{"ip":"10.0.0.1","geographicalContext":{"city":"New York","state":"New York","country":"United States","postalCode":"10013","geolocation":{"lat":40.3157,"lon":-74.01}},"version":"V4","source":null}]},"target":[{"id":"pfdfdhyjf0HMbkP2e1d7","type":"AuthenticatorEnrollment","alternateId":"unknown","displayName":"Okta Verify","detailEntry":null},{"id":"0oatxlef9sQvvqInq5d6","type":"AppInstance","alternateId":"Okta Admin Console","displayName":"Okta Admin Console","detailEntry":null}]}`)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		if end, ok := SkipValue(ev, 0); !ok || end != len(ev) {
			b.Fatalf("got %d %v, want %d true", end, ok, len(ev))
		}
	}
}

func TestSkipNumber(t *testing.T) {
	tests := []struct {
		src  string
		from int
		end  int
		ok   bool
	}{
		{"0", 0, 1, true}, {"-0", 0, 2, true}, {"12345,", 0, 5, true}, {"x-1.5e+10]", 1, 9, true},
		{"0.25", 0, 4, true}, {"1E9", 0, 3, true}, {"1e-0 ", 0, 4, true}, {"01", 0, 1, true},
		{"", 0, 0, false}, {"-", 0, 1, false}, {"-x", 0, 1, false}, {"+1", 0, 0, false}, {".5", 0, 0, false},
		{"1.", 0, 2, false}, {"1.e5", 0, 2, false}, {"1e", 0, 2, false}, {"1e+", 0, 3, false}, {"1e+x", 0, 3, false},
	}
	for _, tt := range tests {
		end, ok := SkipNumber([]byte(tt.src), tt.from)
		if end != tt.end || ok != tt.ok {
			t.Errorf("SkipNumber(%q, %d): got %d, %v, want %d, %v", tt.src, tt.from, end, ok, tt.end, tt.ok)
		}
	}
}
