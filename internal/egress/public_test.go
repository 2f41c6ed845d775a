package egress_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/sink"
)

type apiErr struct{ code, msg string }

func (e apiErr) Error() string        { return "api error " + e.code + ": " + e.msg }
func (e apiErr) ErrorCode() string    { return e.code }
func (e apiErr) ErrorMessage() string { return e.msg }

func TestPublicMessageWithholdsBodies(t *testing.T) {
	const secret = `{"internal":"db_password=hunter2"}`
	tests := []struct {
		name string
		err  error
		keep string
	}{
		{"webhook", fmt.Errorf("verify: %w", &sink.StatusError{Method: "POST", URL: "http://10.0.0.1/", StatusCode: 500, Body: secret}),
			"verify: POST http://10.0.0.1/: 500 Internal Server Error (answer body withheld)"},
		{"elasticsearch", fmt.Errorf("x: %w", &sink.StatusError{Method: "GET", URL: "http://10.0.0.1/", StatusCode: 500, Body: secret}),
			"500 Internal Server Error"},
		{"aws, joined", errors.Join(errors.New("first"), fmt.Errorf("put: %w", apiErr{"InternalError", secret})),
			"api error InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := egress.PublicMessage(tt.err)
			if strings.Contains(got, "hunter2") || !strings.Contains(got, tt.keep) {
				t.Fatalf("got %q, want %q kept and the body gone", got, tt.keep)
			}
			if !strings.Contains(tt.err.Error(), "hunter2") {
				t.Fatal("the error itself lost its body; only the public message may")
			}
		})
	}
	if got := egress.PublicMessage(nil); got != "" {
		t.Fatalf("nil: got %q, want empty", got)
	}
}
