package secret

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestStripAndCarry(t *testing.T) {
	paths := []string{"auth.password", "token"}
	stored := json.RawMessage(`{"url":"u","token":"t1","auth":{"type":"basic","username":"a","password":"p1"}}`)
	shown, err := Strip(stored, paths)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(shown), `{"auth":{"type":"basic","username":"a"},"url":"u"}`; got != want {
		t.Fatalf("Strip: got %s, want %s", got, want)
	}
	tests := []struct {
		name, update, want string
	}{
		{"left out", `{"url":"v","auth":{"type":"basic","username":"a"}}`,
			`{"auth":{"password":"p1","type":"basic","username":"a"},"token":"t1","url":"v"}`},
		{"sent back redacted", `{"url":"v","token":"********","auth":{"password":"********"}}`,
			`{"auth":{"password":"p1"},"token":"t1","url":"v"}`},
		{"replaced", `{"token":"t2","auth":{"password":"p2"}}`,
			`{"auth":{"password":"p2"},"token":"t2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Carry(json.RawMessage(tt.update), stored, Fields{Secrets: paths})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestCarryStopsAtANewDestination is the review's H1: a secret left out
// of an update that moves the destination to another scheme, host or port
// is not carried there.
func TestCarryStopsAtANewDestination(t *testing.T) {
	f := Fields{Secrets: []string{"auth.password", "signing.secret"}, Destination: []string{"url", "auth.tokenUrl", "region", "urls"}}
	stored := json.RawMessage(`{"url":"https://hooks.example.com/a","region":"us-east-1","urls":["https://es1:9200","https://es2:9200"],` +
		`"auth":{"type":"basic","password":"p1","tokenUrl":"https://idp.example.com/token"},"signing":{"secret":"s1"}}`)
	tests := []struct {
		name, update string
		// wantErr is the error text, or "" when the secrets are carried.
		wantErr string
	}{
		{"same place, new path", `{"url":"https://HOOKS.example.com:443/b?x=1","region":"US-EAST-1","urls":["https://es2:9200","https://es1:9200/"],"auth":{"type":"basic","tokenUrl":"https://idp.example.com/other"}}`, ""},
		{"new host", `{"url":"https://evil.example.net/a","region":"us-east-1","urls":["https://es1:9200","https://es2:9200"],"auth":{"type":"basic","tokenUrl":"https://idp.example.com/token"}}`,
			"settings.auth.password must be sent again because settings.url changed host\nsettings.signing.secret must be sent again because settings.url changed host"},
		{"new scheme and port, redacted", `{"url":"http://hooks.example.com:8080/a","region":"us-east-1","urls":["https://es1:9200","https://es2:9200"],"auth":{"type":"basic","password":"********","tokenUrl":"https://idp.example.com/token"},"signing":{"secret":"s2"}}`,
			"settings.auth.password must be sent again because settings.url changed scheme and port"},
		{"new token url", `{"url":"https://hooks.example.com/a","region":"us-east-1","urls":["https://es1:9200","https://es2:9200"],"auth":{"type":"basic","tokenUrl":"https://idp.evil.net/token"},"signing":{"secret":"s2"}}`,
			"settings.auth.password must be sent again because settings.auth.tokenUrl changed host"},
		{"new region", `{"url":"https://hooks.example.com/a","region":"eu-west-1","urls":["https://es1:9200","https://es2:9200"],"auth":{"type":"basic","password":"p2","tokenUrl":"https://idp.example.com/token"}}`,
			"settings.signing.secret must be sent again because settings.region changed"},
		{"one more url", `{"url":"https://hooks.example.com/a","region":"us-east-1","urls":["https://es1:9200","https://es2:9200","https://es3:9200"],"auth":{"type":"basic","password":"p2","tokenUrl":"https://idp.example.com/token"}}`,
			"settings.signing.secret must be sent again because settings.urls changed hosts"},
		{"destination removed", `{"region":"us-east-1","urls":["https://es1:9200","https://es2:9200"],"auth":{"type":"basic","password":"p2","tokenUrl":"https://idp.example.com/token"}}`,
			"settings.signing.secret must be sent again because settings.url changed"},
		{"new host, secrets sent", `{"url":"https://evil.example.net/a","region":"us-east-1","auth":{"type":"basic","password":"p2"},"signing":{"secret":"s2"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Carry(json.RawMessage(tt.update), stored, f)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				var m struct {
					Auth    struct{ Password string }
					Signing struct{ Secret string }
				}
				if err := json.Unmarshal(got, &m); err != nil {
					t.Fatal(err)
				}
				if m.Auth.Password == "" || m.Signing.Secret == "" {
					t.Fatalf("got %s, want both secrets", got)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("got %v (%s), want %q", err, got, tt.wantErr)
			}
			if !errors.Is(err, ErrResend) {
				t.Fatalf("got %v, want it to wrap ErrResend", err)
			}
		})
	}
}
