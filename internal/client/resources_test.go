package client

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestResendAfterConnectionError pins, for every resource call, the
// request it makes and whether it is sent again after a dropped
// connection: reads, PUT, DELETE and lifecycle changes are; creates and
// redrive, which a repetition could do twice, are not.
func TestResendAfterConnectionError(t *testing.T) {
	srv, c, waits := newTest(t)
	// A new connection per request, so that every dropped one is seen by
	// the client's own retry rather than by the transport's.
	c.hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	ctx := t.Context()
	st, err := c.CreateStream(ctx, Stream{Type: "http", Name: "s", Settings: json.RawMessage(`{"url":"http://127.0.0.1:1/x"}`)})
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	so, err := c.CreateSource(ctx, Source{Type: "okta", Name: "o", Settings: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatalf("CreateSource: %v", err)
	}
	tok, err := c.CreateToken(ctx, Token{Name: "t", Scopes: []string{"logs.read"}})
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	sp, op, tp := "/api/v1/logStreams/"+st.ID, "/api/v1/sources/"+so.ID, "/api/v1/tokens/"+tok.ID
	ignore := func(_ any, err error) error { return err }
	tests := []struct {
		name         string
		method, path string
		call         func(ctx context.Context) error
		wantResent   bool
	}{
		{"ListStreams", "GET", "/api/v1/logStreams", func(ctx context.Context) error { return ignore(c.ListStreams(ctx)) }, true},
		{"GetStream", "GET", sp, func(ctx context.Context) error { return ignore(c.GetStream(ctx, st.ID)) }, true},
		{"CreateStream", "POST", "/api/v1/logStreams", func(ctx context.Context) error { return ignore(c.CreateStream(ctx, st)) }, false},
		{"UpdateStream", "PUT", sp, func(ctx context.Context) error { return ignore(c.UpdateStream(ctx, st.ID, st)) }, true},
		{"Deactivate", "POST", sp + "/lifecycle/deactivate", func(ctx context.Context) error { return ignore(c.Deactivate(ctx, st.ID)) }, true},
		{"Activate", "POST", sp + "/lifecycle/activate", func(ctx context.Context) error { return ignore(c.Activate(ctx, st.ID)) }, true},
		{"Status", "GET", sp + "/status", func(ctx context.Context) error { return ignore(c.Status(ctx, st.ID)) }, true},
		{"Replay", "POST", sp + "/replay", func(ctx context.Context) error { return c.Replay(ctx, st.ID, time.Now().Add(-time.Hour)) }, true},
		{"DeadLetters", "GET", sp + "/deadLetters", func(ctx context.Context) error { return ignore(c.DeadLetters(ctx, st.ID)) }, true},
		{"Redrive", "POST", sp + "/deadLetters/redrive", func(ctx context.Context) error { return ignore(c.Redrive(ctx, st.ID)) }, false},
		{"ListSources", "GET", "/api/v1/sources", func(ctx context.Context) error { return ignore(c.ListSources(ctx)) }, true},
		{"GetSource", "GET", op, func(ctx context.Context) error { return ignore(c.GetSource(ctx, so.ID)) }, true},
		{"CreateSource", "POST", "/api/v1/sources", func(ctx context.Context) error { return ignore(c.CreateSource(ctx, so)) }, false},
		{"UpdateSource", "PUT", op, func(ctx context.Context) error { return ignore(c.UpdateSource(ctx, so.ID, so)) }, true},
		{"DeactivateSource", "POST", op + "/lifecycle/deactivate", func(ctx context.Context) error { return ignore(c.DeactivateSource(ctx, so.ID)) }, true},
		{"ActivateSource", "POST", op + "/lifecycle/activate", func(ctx context.Context) error { return ignore(c.ActivateSource(ctx, so.ID)) }, true},
		{"SourceStatus", "GET", op + "/status", func(ctx context.Context) error { return ignore(c.SourceStatus(ctx, so.ID)) }, true},
		{"ListTokens", "GET", "/api/v1/tokens", func(ctx context.Context) error { return ignore(c.ListTokens(ctx)) }, true},
		{"GetToken", "GET", tp, func(ctx context.Context) error { return ignore(c.GetToken(ctx, tok.ID)) }, true},
		{"CreateToken", "POST", "/api/v1/tokens", func(ctx context.Context) error { return ignore(c.CreateToken(ctx, tok)) }, false},
		{"DeleteSource", "DELETE", op, func(ctx context.Context) error { return c.DeleteSource(ctx, so.ID) }, true},
		{"DeleteToken", "DELETE", tp, func(ctx context.Context) error { return c.DeleteToken(ctx, tok.ID) }, true},
		{"DeleteStream", "DELETE", sp, func(ctx context.Context) error { return c.DeleteStream(ctx, st.ID) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*waits = nil
			// Counted by the server's goroutine before it drops the
			// connection: a call that is not resent returns as soon as
			// the connection closes, maybe before anything after it ran.
			var dropped atomic.Int32
			drop := dropFirst(1, tt.method, tt.path)
			srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == tt.method && r.URL.Path == tt.path && dropped.Load() == 0 {
					dropped.Add(1)
				}
				return drop(w, r)
			})
			defer srv.Intercept(nil)
			// Only a resent call can succeed: its first request was dropped.
			// A resent call waits once before sending again.
			err := tt.call(t.Context())
			if n := dropped.Load(); n != 1 {
				t.Fatalf("dropped %d requests to %s %s, want 1", n, tt.method, tt.path)
			}
			resent := len(*waits) > 0
			if resent != tt.wantResent || (err == nil) != tt.wantResent {
				t.Errorf("got error %v, waits %v; want resent %v", err, *waits, tt.wantResent)
			}
		})
	}
}

// TestDecodesEmptyTimes checks that every type with times takes "" and
// null as unset, reads RFC 3339 times and the other members, and refuses
// a malformed time.
func TestDecodesEmptyTimes(t *testing.T) {
	when := time.Date(2024, 8, 13, 15, 58, 20, 353e6, time.UTC)
	t.Run("Source", func(t *testing.T) {
		var s Source
		if err := json.Unmarshal([]byte(`{"id":"a","type":"okta","readOnly":true,"created":"","lastUpdated":"2024-08-13T15:58:20.353Z"}`), &s); err != nil {
			t.Fatal(err)
		}
		if s.ID != "a" || s.Type != "okta" || !s.ReadOnly || !s.Created.IsZero() || !s.LastUpdated.Equal(when) {
			t.Errorf("got %+v, want id a, type okta, readOnly, no created, lastUpdated %v", s, when)
		}
	})
	t.Run("DeadLetter", func(t *testing.T) {
		var d DeadLetter
		if err := json.Unmarshal([]byte(`{"seq":7,"uuid":"u","reason":"r","at":null,"event":{"x":1}}`), &d); err != nil {
			t.Fatal(err)
		}
		if d.Seq != 7 || d.UUID != "u" || !d.At.IsZero() || string(d.Event) != `{"x":1}` {
			t.Errorf("got %+v, want seq 7, uuid u, no time, the event", d)
		}
		if err := json.Unmarshal([]byte(`{"seq":7,"at":"2024-08-13T15:58:20.353Z"}`), &d); err != nil || !d.At.Equal(when) {
			t.Errorf("got at %v, %v, want %v", d.At, err, when)
		}
	})
	t.Run("malformed time", func(t *testing.T) {
		var st Stream
		if err := json.Unmarshal([]byte(`{"id":"a","created":"yesterday"}`), &st); err == nil {
			t.Errorf("got nil error for created \"yesterday\", want a parse error")
		}
	})
}
