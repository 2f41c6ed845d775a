package httpapi_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
)

// thing is a resource of a test Collection.
type thing struct {
	ID, Org, Type, Status string
	Fixed                 bool
}

// serveThings serves a Collection of things as /things for tok, the way
// the log stream and source APIs route theirs.
func serveThings(t *testing.T, tok auth.Token, things ...thing) (*httptest.Server, *[]string) {
	t.Helper()
	var changed []string
	c := &httpapi.Collection[thing, string]{Kind: "Thing",
		List: func() []thing { return things },
		Get: func(id string) (thing, bool) {
			i := slices.IndexFunc(things, func(x thing) bool { return x.ID == id })
			if i < 0 {
				return thing{}, false
			}
			return things[i], true
		},
		Meta: func(x thing) httpapi.Meta {
			return httpapi.Meta{Org: x.Org, Type: x.Type, Status: x.Status, ReadOnly: x.Fixed}
		},
		View:     func(_ *http.Request, x thing) string { return x.ID },
		ReadOnly: "thing is read-only"}
	handle := func(h httpapi.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r, tok); err != nil {
				httpapi.WriteError(w, slog.New(slog.DiscardHandler), err)
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things", handle(c.ServeList))
	mux.HandleFunc("GET /things/{id}", handle(c.ServeGet))
	mux.HandleFunc("GET /things/{id}/status", handle(func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
		return c.ServeFound(w, r, tok, func(x thing) any { return x.Status })
	}))
	mux.HandleFunc("POST /things/{id}/touch", handle(func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
		return c.ServeChange(w, r, tok, func(x thing) (thing, error) {
			changed = append(changed, x.ID)
			if x.ID == "bad" {
				return x, errors.New("refused")
			}
			x.ID += "!"
			return x, nil
		})
	}))
	mux.HandleFunc("PUT /things/{id}", handle(func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
		var in struct {
			Name string `json:"name"`
		}
		x, err := c.Replacing(r, tok, &in)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, x.ID+"="+in.Name)
		return nil
	}))
	mux.HandleFunc("DELETE /things/{id}", handle(func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
		return c.ServeDelete(w, r, tok, func(x thing) error { changed = append(changed, "-"+x.ID); return nil })
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &changed
}

// TestCollection is the flow log streams and sources share: another org's
// resource is not found, the filter takes type or status only, a resource
// of the config file cannot be changed or deleted, and only a change that
// is allowed reaches the caller's function.
func TestCollection(t *testing.T) {
	things := []thing{{ID: "a1", Org: "acme", Type: "http", Status: "ACTIVE"}, {ID: "a2", Org: "acme", Type: "s3", Status: "INACTIVE"},
		{ID: "f", Org: "acme", Type: "http", Status: "ACTIVE", Fixed: true}, {ID: "bad", Org: "acme"}, {ID: "g1", Org: "globex", Type: "http", Status: "ACTIVE"}}
	srv, changed := serveThings(t, auth.Token{ID: "t", Org: "acme"}, things...)
	tests := []struct {
		name, method, path string
		send               string // request body
		status             int
		body               string // JSON body, or the errorCode of an error
	}{
		{"list the token's org", "GET", "/things", "", 200, `["a1","a2","f","bad"]`},
		{"filter by type", "GET", `/things?filter=type+eq+"http"`, "", 200, `["a1","f"]`},
		{"filter by status", "GET", `/things?filter=status+eq+"INACTIVE"`, "", 200, `["a2"]`},
		{"filter on another member", "GET", `/things?filter=org+eq+"acme"`, "", 400, httpapi.CodeInvalidFilter},
		{"malformed filter", "GET", `/things?filter=type`, "", 400, httpapi.CodeInvalidFilter},
		{"get", "GET", "/things/a1", "", 200, `"a1"`},
		{"another org's is not found", "GET", "/things/g1", "", 404, httpapi.CodeNotFound},
		{"unknown", "GET", "/things/nope", "", 404, httpapi.CodeNotFound},
		{"status", "GET", "/things/a2/status", "", 200, `"INACTIVE"`},
		{"another org's status", "GET", "/things/g1/status", "", 404, httpapi.CodeNotFound},
		{"change", "POST", "/things/a1/touch", "", 200, `"a1!"`},
		{"change refused by the caller", "POST", "/things/bad/touch", "", 500, httpapi.CodeInternal},
		{"change of the config file's", "POST", "/things/f/touch", "", 403, httpapi.CodeForbidden},
		{"change of another org's", "POST", "/things/g1/touch", "", 404, httpapi.CodeNotFound},
		{"replace", "PUT", "/things/a1", `{"name":"n"}`, 200, `"a1=n"`},
		{"replace with a misspelt member", "PUT", "/things/a1", `{"nmae":"n"}`, 400, httpapi.CodeMalformed},
		{"replace the config file's", "PUT", "/things/f", `{"name":"n"}`, 403, httpapi.CodeForbidden},
		{"replace another org's", "PUT", "/things/g1", `{"name":"n"}`, 404, httpapi.CodeNotFound},
		{"delete", "DELETE", "/things/a2", "", 204, ``},
		{"delete the config file's", "DELETE", "/things/f", "", 403, httpapi.CodeForbidden},
		{"delete another org's", "DELETE", "/things/g1", "", 404, httpapi.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.send))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.status)
			}
			var got json.RawMessage
			if tt.status != 204 {
				if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
					t.Fatal(err)
				}
			}
			if tt.status >= 400 {
				var e struct{ ErrorCode string }
				if err := json.Unmarshal(got, &e); err != nil || e.ErrorCode != tt.body {
					t.Fatalf("got %s, want errorCode %s", got, tt.body)
				}
				return
			}
			if strings.TrimSpace(string(got)) != tt.body {
				t.Fatalf("got %s, want %s", got, tt.body)
			}
		})
	}
	if want := []string{"a1", "bad", "-a2"}; !slices.Equal(*changed, want) {
		t.Fatalf("got changes %v, want %v", *changed, want)
	}
}
