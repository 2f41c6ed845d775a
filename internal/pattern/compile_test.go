package pattern

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestInvalidPatternsGolden checks every reason in testdata/invalid-patterns.txt.
func TestInvalidPatternsGolden(t *testing.T) {
	f, err := os.Open("testdata/invalid-patterns.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines)%2 != 0 {
		t.Fatalf("golden file has an odd number of lines")
	}
	for i := 0; i < len(lines); i += 2 {
		pat, want := lines[i], lines[i+1]
		t.Run(pat, func(t *testing.T) {
			_, err := Compile([]byte(pat))
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Compile(%s) = %v, want %q", pat, err, want)
			}
			if got := err.Error(); got != want {
				t.Fatalf("Compile(%s)\n got %q\nwant %q", pat, got, want)
			}
		})
	}
}

func TestErrorPosition(t *testing.T) {
	_, err := Compile([]byte("{\n  \"a\": [{\"prefix\": 5}]\n}"))
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("got %v, want *Error", err)
	}
	if perr.Line != 2 || perr.Column != 20 {
		t.Fatalf("got line %d column %d, want line 2 column 20", perr.Line, perr.Column)
	}
}

func TestLimits(t *testing.T) {
	long := `{"a":["` + strings.Repeat("x", 5000) + `"]}`
	if _, err := Compile([]byte(long)); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("long pattern: got %v, want a too-long error", err)
	}
	if _, err := Compile([]byte(long), WithMaxLength(0)); err != nil {
		t.Fatalf("long pattern without limit: %v", err)
	}
	// 4096 bytes exactly, whitespace included, is accepted.
	pad := `{"a":["x"]}`
	exact := pad + strings.Repeat(" ", DefaultMaxLength-len(pad))
	if _, err := Compile([]byte(exact)); err != nil {
		t.Fatalf("pattern of exactly %d bytes: %v", DefaultMaxLength, err)
	}

	// 11 x 10 x 10 = 1100 combinations.
	alts := func(name string, n int) string {
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, fmt.Sprintf(`{"%s%d":["v"]}`, name, i))
		}
		return `"$or":[` + strings.Join(parts, ",") + `]`
	}
	many := `{"a":{` + alts("a", 11) + `},"b":{` + alts("b", 10) + `},"c":{` + alts("c", 10) + `}}`
	_, err := Compile([]byte(many))
	if err == nil || err.Error() != "Event pattern is not valid. Reason: Too many $or combinations (1100 > 1000)" {
		t.Fatalf("got %v, want the combinations error", err)
	}
	if _, err := Compile([]byte(many), WithMaxCombinations(2000)); err != nil {
		t.Fatalf("with a higher limit: %v", err)
	}
	ok := `{"a":{` + alts("a", 10) + `},"b":{` + alts("b", 10) + `},"c":{` + alts("c", 10) + `}}`
	if _, err := Compile([]byte(ok)); err != nil {
		t.Fatalf("1000 combinations: %v", err)
	}

	if _, err := Compile([]byte(`{"a":[{"numeric":[">",6e9]}]}`), WithStrictNumericOperands(false)); err != nil {
		t.Fatalf("non-strict numeric: %v", err)
	}
	if _, err := Compile([]byte(`{"a":[{"wildcard":"*:*:*:*:*:event-bus/*"}]}`), WithMaxWildcardComplexity(20)); err != nil {
		t.Fatalf("higher complexity limit: %v", err)
	}
	deep := strings.Repeat(`{"a":`, 300) + `["x"]` + strings.Repeat("}", 300)
	if _, err := Compile([]byte(deep), WithMaxLength(0)); err == nil {
		t.Fatalf("deep pattern: got nil error")
	}
}

func TestWildcardComplexityCalibration(t *testing.T) {
	for _, tc := range []struct {
		wc     string
		accept bool
	}{
		{"*:*:*:*:*:event-bus/*", false},
		{"arn:aws:events:us-east-1:*:event-bus/*", true},
		{"/Users/*/doc.txt", true},
		{"/Users/*/dir/dir/dir/dir/dir/doc.txt", true},
	} {
		_, err := Compile([]byte(`{"f":[{"wildcard":"` + tc.wc + `"}]}`))
		if (err == nil) != tc.accept {
			t.Errorf("wildcard %q: got error %v, want accepted=%v", tc.wc, err, tc.accept)
		}
	}
}

func TestDecimalPlaces(t *testing.T) {
	for text, want := range map[string]int{"1": 0, "1.5": 1, "3.018e2": 1, "1.5e-7": 8, "0.000001": 6, "1.2300": 2, "12e-1": 1, "-2.5E+1": 0} {
		if got := decimalPlaces(text); got != want {
			t.Errorf("decimalPlaces(%s) = %d, want %d", text, got, want)
		}
	}
}
