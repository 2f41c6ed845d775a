package setting_test

import (
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/setting"
)

func TestDecode(t *testing.T) {
	type settings struct {
		URL  string `json:"url"`
		Auth struct {
			Type string `json:"type"`
		} `json:"auth"`
	}
	tests := []struct {
		name, in, wantErr string
		wantURL           string
	}{
		{name: "known members", in: `{"url":"https://x","auth":{"type":"A"}}`, wantURL: "https://x"},
		{name: "misspelt member", in: `{"urll":"https://x"}`, wantErr: `settings: json: unknown field "urll"`},
		{name: "misspelt nested member", in: `{"auth":{"typ":"A"}}`, wantErr: `settings: json: unknown field "typ"`},
		{name: "not an object", in: `[]`, wantErr: "settings: json: cannot unmarshal array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := setting.Decode[settings]([]byte(tt.in))
			switch {
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantErr == "" && got.URL != tt.wantURL:
				t.Errorf("got url %q, want %q", got.URL, tt.wantURL)
			}
		})
	}
}
