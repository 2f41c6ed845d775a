package sink

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: `"10s"`, want: 10 * time.Second},
		{in: `"1h30m"`, want: 90 * time.Minute},
		{in: `"ten"`, wantErr: true},
		{in: `10`, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tc.in), &d)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if err == nil && d.D() != tc.want {
				t.Errorf("got %v, want %v", d.D(), tc.want)
			}
		})
	}
	out, err := json.Marshal(Duration(5 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"5m0s"`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}
