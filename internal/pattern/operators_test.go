package pattern

import (
	"strings"
	"testing"
)

func TestOperators(t *testing.T) {
	runMatchCases(t, []matchCase{
		// exact values and types
		{"string", `{"a":["x","y"]}`, `{"a":"y"}`, true},
		{"string miss", `{"a":["x","y"]}`, `{"a":"z"}`, false},
		{"escaped string", `{"a":["tab\there"]}`, `{"a":"tab\u0009here"}`, true},
		{"unicode escape", `{"a":["é"]}`, `{"a":"\u00e9"}`, true},
		{"many strings", `{"a":["a1","a2","a3","a4","a5","a6","a7","a8","a9","a10"]}`, `{"a":"a9"}`, true},
		{"number negative zero", `{"a":[0]}`, `{"a":-0.0}`, true},
		{"number exponent", `{"a":[1e3]}`, `{"a":1000}`, true},
		{"huge number literal", `{"a":[1e400]}`, `{"a":1e400}`, true},
		{"huge number other spelling", `{"a":[1e400]}`, `{"a":10e399}`, false},
		{"account number", `{"a":[123456789012]}`, `{"a":123456789012}`, true},
		{"true", `{"a":[true]}`, `{"a":true}`, true},
		{"true vs string", `{"a":[true]}`, `{"a":"true"}`, false},
		{"null vs missing", `{"a":[null]}`, `{"b":null}`, false},
		{"ip exact other spelling", `{"a":["2001:db8::1"]}`, `{"a":"2001:0db8:0:0:0:0:0:1"}`, true},
		{"ip exact v4", `{"a":["10.0.0.1"]}`, `{"a":"10.0.0.1"}`, true},
		{"ip exact v4 miss", `{"a":["10.0.0.1"]}`, `{"a":"10.0.0.2"}`, false},
		{"star is literal", `{"a":["*"]}`, `{"a":"anything"}`, false},
		// arrays in events
		{"array any element", `{"a":["x"]}`, `{"a":["y","x"]}`, true},
		{"array of arrays", `{"a":["x"]}`, `{"a":[["y"],["z",["x"]]]}`, true},
		{"array of objects", `{"a":{"b":["x"]}}`, `{"a":[{"b":"y"},{"b":"x"}]}`, true},
		{"empty array no match", `{"a":["x"]}`, `{"a":[]}`, false},
		{"object is not a value", `{"a":["x"]}`, `{"a":{"x":"x"}}`, false},
		{"consistency nested arrays", `{"a":{"b":{"c":["1"],"d":["2"]}}}`, `{"a":[{"b":[{"c":"1","d":"0"},{"c":"0","d":"2"}]}]}`, false},
		{"consistency nested arrays same", `{"a":{"b":{"c":["1"],"d":["2"]}}}`, `{"a":[{"b":[{"c":"0","d":"0"},{"c":"1","d":"2"}]}]}`, true},
		{"consistency outside value", `{"a":{"c":["1"]},"z":["q"]}`, `{"a":[{"c":"1"}],"z":"q"}`, true},
		{"consistency different arrays", `{"a":{"c":["1"]},"b":{"d":["2"]}}`, `{"a":[{"c":"0"},{"c":"1"}],"b":[{"d":"2"}]}`, true},
		// dotted keys
		{"dotted pattern key", `{"detail":{"state.status":["running"]}}`, `{"detail":{"state":{"status":"running"}}}`, true},
		{"dotted both", `{"detail.state":{"status":["running"]}}`, `{"detail":{"state.status":"running"}}`, true},
		{"both shapes present", `{"a":{"b":["2"]}}`, `{"a.b":"1","a":{"b":"2"}}`, true},
		// prefix and suffix
		{"prefix", `{"a":[{"prefix":"us-"}]}`, `{"a":"us-east-1"}`, true},
		{"prefix number", `{"a":[{"prefix":"1"}]}`, `{"a":12}`, false},
		{"suffix", `{"a":[{"suffix":".png"}]}`, `{"a":"x.png"}`, true},
		{"empty suffix", `{"a":[{"suffix":""}]}`, `{"a":"x"}`, true},
		{"empty suffix not null", `{"a":[{"suffix":""}]}`, `{"a":null}`, false},
		{"prefix fold kelvin", `{"a":[{"prefix":{"equals-ignore-case":"k"}}]}`, "{\"a\":\"\u212Aelvin\"}", true},
		{"suffix fold unicode", `{"a":[{"suffix":{"equals-ignore-case":"É"}}]}`, `{"a":"café"}`, true},
		{"suffix fold miss", `{"a":[{"suffix":{"equals-ignore-case":"x"}}]}`, `{"a":""}`, false},
		{"equals-ignore-case sigma", `{"a":[{"equals-ignore-case":"ΣΑΣ"}]}`, `{"a":"σας"}`, true},
		{"equals-ignore-case length", `{"a":[{"equals-ignore-case":"ab"}]}`, `{"a":"abc"}`, false},
		// wildcard
		{"wildcard middle", `{"a":[{"wildcard":"a*c*e"}]}`, `{"a":"abcde"}`, true},
		{"wildcard overlap", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"aba"}`, false},
		{"wildcard star only", `{"a":[{"wildcard":"*"}]}`, `{"a":""}`, true},
		{"wildcard escaped backslash", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\bc"}`, true},
		{"wildcard number", `{"a":[{"wildcard":"*"}]}`, `{"a":5}`, false},
		// anything-but
		{"ab string other", `{"a":[{"anything-but":"x"}]}`, `{"a":"y"}`, true},
		{"ab string number", `{"a":[{"anything-but":"5"}]}`, `{"a":5}`, true},
		{"ab number string", `{"a":[{"anything-but":123}]}`, `{"a":"abc"}`, true},
		{"ab number by value", `{"a":[{"anything-but":123}]}`, `{"a":123.0}`, false},
		{"ab boolean", `{"a":[{"anything-but":"x"}]}`, `{"a":true}`, true},
		{"ab array any element", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","y"]}`, true},
		{"ab array all excluded", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","x"]}`, false},
		{"ab empty array", `{"a":[{"anything-but":"x"}]}`, `{"a":[]}`, false},
		{"ab suffix", `{"a":[{"anything-but":{"suffix":".txt"}}]}`, `{"a":"a.txt"}`, false},
		{"ab eic single", `{"a":[{"anything-but":{"equals-ignore-case":"X"}}]}`, `{"a":"x"}`, false},
		{"ab wildcard", `{"a":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"a":"/usr/lib/x"}`, false},
		{"ab wildcard list", `{"a":[{"anything-but":{"wildcard":["*/lib/*","*.so"]}}]}`, `{"a":"/usr/bin/x"}`, true},
		{"ab wildcard empty vs empty", `{"a":[{"anything-but":{"wildcard":""}}]}`, `{"a":""}`, false},
		{"ab prefix null", `{"a":[{"anything-but":{"prefix":"x"}}]}`, `{"a":null}`, true},
		// numeric
		{"numeric =", `{"a":[{"numeric":["=",5]}]}`, `{"a":5.0}`, true},
		{"numeric <", `{"a":[{"numeric":["<",5]}]}`, `{"a":5}`, false},
		{"numeric <=", `{"a":[{"numeric":["<=",5]}]}`, `{"a":5}`, true},
		{"numeric >=", `{"a":[{"numeric":[">=",-1.5]}]}`, `{"a":-1.5}`, true},
		{"numeric range open", `{"a":[{"numeric":[">",0,"<",5]}]}`, `{"a":5}`, false},
		{"numeric range closed", `{"a":[{"numeric":[">=",0,"<=",5]}]}`, `{"a":0}`, true},
		{"numeric array", `{"a":[{"numeric":[">",10]}]}`, `{"a":[1,2,30]}`, true},
		{"numeric boolean", `{"a":[{"numeric":[">",0]}]}`, `{"a":true}`, false},
		{"numeric huge", `{"a":[{"numeric":[">",0]}]}`, `{"a":1e400}`, false},
		// cidr and exists
		{"cidr host bits set", `{"a":[{"cidr":"10.0.0.7/24"}]}`, `{"a":"10.0.0.200"}`, true},
		{"cidr v4 in v6", `{"a":[{"cidr":"2001:db8::/32"}]}`, `{"a":"10.0.0.1"}`, false},
		{"cidr leading zero", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":"010.0.0.1"}`, false},
		{"exists null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
		{"exists false null", `{"a":[{"exists":false}]}`, `{"a":null}`, false},
		{"exists false empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
		{"exists false missing parent", `{"a":{"b":[{"exists":false}]}}`, `{}`, true},
		{"only exists false", `{"a":[{"exists":false}],"b":[{"exists":false}]}`, `{"c":1}`, true},
		// several matchers in one leaf
		{"mixed leaf", `{"a":["x",{"prefix":"b"},{"numeric":[">",5]},{"exists":false}]}`, `{"a":9}`, true},
		{"mixed leaf miss", `{"a":["x",{"prefix":"b"},{"numeric":[">",5]},{"exists":false}]}`, `{"a":"c"}`, false},
		// $or
		{"or top", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"b":"2"}`, true},
		{"or top miss", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"b":"1"}`, false},
		{"or with sibling", `{"c":["3"],"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"b":"2","c":"4"}`, false},
		{"or nested", `{"$or":[{"a":["1"]},{"$or":[{"b":["2"]},{"c":["3"]}]}]}`, `{"c":"3"}`, true},
		{"or inside object", `{"d":{"$or":[{"a":["1"]},{"b":{"c":["2"]}}]}}`, `{"d":{"b":{"c":"2"}}}`, true},
		{"or overrides earlier leaf", `{"a":["1"],"$or":[{"a":["2"]},{"b":["3"]}]}`, `{"a":"2"}`, true},
		{"or keeps earlier leaf", `{"a":["1"],"$or":[{"a":["2"]},{"b":["3"]}]}`, `{"a":"2","b":"3"}`, true},
		{"or keeps earlier leaf miss", `{"a":["1"],"$or":[{"a":["2"]},{"b":["3"]}]}`, `{"a":"4","b":"3"}`, false},
		{"or as field name outside or", `{"a":{"prefix":["x"]}}`, `{"a":{"prefix":"x"}}`, true},
		// duplicate keys: last write to a path wins; objects merge as in event-ruler
		{"dup leaf", `{"a":["1"],"a":["2"]}`, `{"a":"1"}`, false},
		{"dup objects merge", `{"a":{"b":["1"]},"a":{"c":["2"]}}`, `{"a":{"b":"1","c":"2"}}`, true},
		{"dup objects merge both needed", `{"a":{"b":["1"]},"a":{"c":["2"]}}`, `{"a":{"c":"2"}}`, false},
		// malformed events
		{"event not object", `{"a":["1"]}`, `["a"]`, false},
		{"event trailing garbage", `{"a":["1"]}`, `{"a":"1"} x`, false},
		{"event bad json", `{"a":["1"]}`, `{"a":"1",}`, false},
		{"event bad skipped json", `{"a":["1"]}`, `{"a":"1","b":[tru]}`, false},
	})
}

func TestEventDepth(t *testing.T) {
	p := MustCompile(`{"a":["1"]}`)
	ok := `{"a":"1","b":` + strings.Repeat("[", MaxEventDepth-1) + strings.Repeat("]", MaxEventDepth-1) + `}`
	if !p.Match([]byte(ok)) {
		t.Fatalf("event nested %d levels: got false, want true", MaxEventDepth)
	}
	deep := `{"a":"1","b":` + strings.Repeat("[", MaxEventDepth+5) + strings.Repeat("]", MaxEventDepth+5) + `}`
	if p.Match([]byte(deep)) {
		t.Fatalf("event nested deeper than %d: got true, want false", MaxEventDepth)
	}
	huge := `{"a":"1","b":` + strings.Repeat(`{"c":`, 100000) + `1` + strings.Repeat("}", 100000) + `}`
	if p.Match([]byte(huge)) {
		t.Fatalf("event nested 100000 levels: got true, want false")
	}
}

// TestRulerArrayCases are event-ruler's arrayRule1-4 / arrayEvent1-4 expectations
// (PATTERNS.md §8), rewritten in the same shape.
func TestArrayConsistencyRulerStyle(t *testing.T) {
	event := `{"employees":[[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones"}]]}`
	runMatchCases(t, []matchCase{
		{"same inner element", `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`, event, true},
		{"different inner elements", `{"employees":{"firstName":["John"],"lastName":["Smith"]}}`, event, false},
		{"different outer elements", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, event, false},
	})
}
