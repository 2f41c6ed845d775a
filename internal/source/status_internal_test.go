package source

import "testing"

// TestAlertEpisode: an alert is raised once while its condition holds and
// it may be, cleared once the condition ends, and its clearing is a
// recovery only when the other alert is down.
func TestAlertEpisode(t *testing.T) {
	tests := []struct {
		name                string
		holds, mayRaise, up bool
		other               bool
		want                string
		wantUp              bool
	}{
		{"raise", true, true, false, false, HealthSilent, true},
		{"raise while the other is up", true, true, false, true, HealthSilent, true},
		{"holds but may not be raised yet", true, false, false, false, "", false},
		{"already up", true, true, true, false, "", true},
		{"recovered", false, true, true, false, HealthRecovered, false},
		{"cleared while the other is up", false, true, true, true, "", false},
		{"nothing", false, false, false, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := tt.up
			if got := alertEpisode(tt.holds, tt.mayRaise, &up, tt.other, HealthSilent); got != tt.want || up != tt.wantUp {
				t.Fatalf("got %q up %v, want %q up %v", got, up, tt.want, tt.wantUp)
			}
		})
	}
}
