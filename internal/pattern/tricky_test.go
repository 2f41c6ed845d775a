package pattern

import "testing"

// matchCase is one pattern/event pair with the expected answer.
type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("Compile(%s): %v", tc.pattern, err)
			}
			if got := p.Match([]byte(tc.event)); got != tc.want {
				t.Fatalf("Match(%s, %s) = %v, want %v", tc.pattern, tc.event, got, tc.want)
			}
			s := NewSet()
			s.Add("a", MustCompile(`{"never-present-key":["x"]}`))
			s.Add("p", p)
			got := s.MatchAll([]byte(tc.event), nil)
			if (len(got) == 1 && got[0] == "p") != tc.want || len(got) > 1 {
				t.Fatalf("Set.MatchAll = %v, want match=%v", got, tc.want)
			}
		})
	}
}

// TestTrickyCases is PATTERNS.md §7, every row and every event variant.
func TestTrickyCases(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"01 key case", `{"MY_KEY":["my-value"]}`, `{"my_key":"my-value"}`, false},
		{"02 300 vs 300.0", `{"number":[300]}`, `{"number":300.0}`, true},
		{"02b 3.0e2", `{"number":[300]}`, `{"number":3.0e2}`, true},
		{"03 string vs number", `{"number":["300"]}`, `{"number":300}`, false},
		{"04a numeric string", `{"number":[{"numeric":[">",100]}]}`, `{"number":"300"}`, false},
		{"04b numeric null", `{"number":[{"numeric":[">",100]}]}`, `{"number":null}`, false},
		{"04c numeric 101.0", `{"number":[{"numeric":[">",100]}]}`, `{"number":101.0}`, true},
		{"05 range", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, `{"detail":{"c-count":42}}`, false},
		{"06a null", `{"detail":{"responseElements":[null]}}`, `{"detail":{"responseElements":null}}`, true},
		{"06b string null", `{"detail":{"responseElements":[null]}}`, `{"detail":{"responseElements":"null"}}`, false},
		{"07 null vs []", `{"resources":[null]}`, `{"resources":[]}`, false},
		{"08 empty string", `{"detail":{"eventVersion":[""]}}`, `{"detail":{"eventVersion":""}}`, true},
		{"09 exists on []", `{"resources":[{"exists":true}]}`, `{"resources":[]}`, false},
		{"10 exists on object", `{"dynamodb":{"presentKey":[{"exists":true}]}}`, `{"dynamodb":{"presentKey":{"S":"x"}}}`, false},
		{"11 exists false on object", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":{"c-count":{"c1":100}}}`, true},
		{"12 exists false typo path", `{"detail":{"level1":{"level2:":{"level3":{"level4":[{"exists":false}]}}}}}`, `{"detail":{"level1":{"level2":"l2 value"}}}`, true},
		{"13a anything-but missing", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{}}`, false},
		{"13b anything-but null", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{"state":null}}`, true},
		{"14a anything-but numbers", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":100}}`, false},
		{"14b anything-but numbers", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":999}}`, true},
		{"15 anything-but prefix number", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, `{"detail":{"state":12}}`, true},
		{"16 anything-but prefix list", `{"detail":{"state":[{"anything-but":{"prefix":["init","post"]}}]}}`, `{"detail":{"state":"post-init"}}`, false},
		{"17a anything-but suffix list", `{"detail":{"FileName":[{"anything-but":{"suffix":[".txt",".jpg"]}}]}}`, `{"detail":{"FileName":"file.jpg"}}`, false},
		{"17b anything-but suffix null", `{"detail":{"FileName":[{"anything-but":{"suffix":[".txt",".jpg"]}}]}}`, `{"detail":{"FileName":null}}`, true},
		{"18 anything-but ignore case", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["initializing","stopped"]}}]}}`, `{"detail":{"state":"Stopped"}}`, false},
		{"19 anything-but wildcard empty", `{"detail":{"FilePath":[{"anything-but":{"wildcard":""}}]}}`, `{"detail":{"FilePath":"dir/init/file"}}`, true},
		{"20 wildcard empty", `{"EventBusArn":[{"wildcard":""}]}`, `{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/b"}`, false},
		{"21 wildcard", `{"FileName":[{"wildcard":"/Users/*/doc.txt"}]}`, `{"FileName":"/Users/u/dir/dir/notmatchingdoc.txt"}`, false},
		{"22 empty prefix", `{"source":[{"prefix":""}]}`, `{"source":"test-source"}`, true},
		{"23 suffix case", `{"FileName":[{"suffix":".PNG"}]}`, `{"FileName":"image.png"}`, false},
		{"24 suffix ignore case", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, `{"detail":{"FileName":"image.PNG"}}`, true},
		{"25 prefix ignore case", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"EvEnTb"}}`, true},
		{"26a ignore case empty", `{"detail":{"value":[{"equals-ignore-case":""}]}}`, `{"detail":{"value":""}}`, true},
		{"26b ignore case empty", `{"detail":{"value":[{"equals-ignore-case":""}]}}`, `{"detail":{"value":"test-value"}}`, false},
		{"27 ignore case array", `{"detail-type":[{"equals-ignore-case":"ec2 instance state-change notification"}]}`, `{"detail-type":["EC2 Instance State-change Notification"]}`, true},
		{"28 intersection", `{"resources":["arn:x:i-b188560f","arn:x:i-other"]}`, `{"resources":["arn:x:asg","arn:x:i-b188560f"]}`, true},
		{"29 dotted event key", `{"detail":{"state":{"status":["running"]}}}`, `{"detail":{"state.status":"running"}}`, true},
		{"30 dotted event key deeper", `{"detail":{"state":{"status":["running"]}}}`, `{"detail":{"state.status":{"status":"running"}}}`, false},
		{"31 dotted pattern key deeper", `{"detail":{"state.status":{"status":["running"]}}}`, `{"detail":{"state":{"status":"running"}}}`, false},
		{"32 JSON in string", `{"detail":{"my-key":["my-value"]}}`, `{"detail":"{\"my-key\": \"my-value\"}"}`, false},
		{"33 array consistency", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, `{"employees":[{"firstName":"Anna","lastName":"Smith"},{"firstName":"John","lastName":"Jones"}]}`, false},
		{"33b same element", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, `{"employees":[{"firstName":"Anna","lastName":"Smith"},{"firstName":"Anna","lastName":"Jones"}]}`, true},
		{"34 array of objects exists", `{"detail":{"automations":{"id":[{"exists":true}]}}}`, `{"detail":{"automations":[{"key1":"v"},{"id":"x"},{"key2":"v"}]}}`, true},
		{"35a cidr", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.0.255"}}`, true},
		{"35b cidr bad ip", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.0.256"}}`, false},
		{"35c cidr number", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":123}}`, false},
		{"36a cidr v6", `{"detail":{"sourceIPAddress":[{"cidr":"2001:db8:1234:1a00::/64"}]}}`, `{"detail":{"sourceIPAddress":"2001:0db8:1234:1a00:0000:0000:0000:0000"}}`, true},
		{"36b cidr v6", `{"detail":{"sourceIPAddress":[{"cidr":"2001:db8:1234:1a00::/64"}]}}`, `{"detail":{"sourceIPAddress":"2001:0db8:123f:1a01:0000:0000:0000:0000"}}`, false},
		{"37a numeric or anything-but", `{"N":[{"numeric":[">",100]},{"anything-but":"101"}]}`, `{"N":"42"}`, true},
		{"37b numeric or anything-but", `{"N":[{"numeric":[">",100]},{"anything-but":"101"}]}`, `{"N":"101"}`, false},
		{"38a exists false sibling", `{"S":[{"anything-but":["roses"]},{"exists":false}]}`, `{"N":"1"}`, true},
		{"38b exists false parent", `{"x":{"S":[{"anything-but":["roses"]},{"exists":false}]}}`, `{"y":1}`, true},
		{"39 OR of items", `{"my_key":[{"exists":true},{"prefix":"IGNORED"},{"suffix":"IGNORED"}]}`, `{"my_key":"my-value"}`, true},
		{"40 last key wins", `{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}`, `{"detail":{"location":"eu-central-1"}}`, true},
		{"41a $or", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, `{"detail":{"c-count":0,"d-count":0,"x-limit":901.8}}`, true},
		{"41b $or", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, `{"detail":{"c-count":0,"d-count":10,"x-limit":901.8}}`, false},
		{"42 star and backslash exact", `{"detail":{"escape_star":["*"],"escape_backslash":["\\"]}}`, `{"detail":{"escape_star":"*","escape_backslash":"\\"}}`, true},
		{"43a wildcard escaped star", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"a*b"}`, true},
		{"43b wildcard escaped star", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"axxb"}`, false},
		{"44 prefix on time", `{"time":[{"prefix":"2022-07-13"}]}`, `{"time":"2022-07-13T13:48:01Z"}`, true},
		{"45a boolean", `{"boolean":[false]}`, `{"boolean":true}`, false},
		{"45b boolean", `{"boolean":[false]}`, `{"boolean":false}`, true},
		{"45c boolean string", `{"boolean":[false]}`, `{"boolean":"false"}`, false},
	})
}
