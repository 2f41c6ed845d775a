// Package awstest holds what in-process fakes of AWS JSON 1.1 services
// share: the SigV4 header check and error answers.
package awstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// ContentType is the AWS JSON 1.1 protocol's content type.
const ContentType = "application/x-amz-json-1.1"

// CheckSigV4 checks that r carries a SigV4 Authorization header for
// accessKeyID and service (and region, unless empty), and X-Amz-Date. It
// does not recompute the signature: the fakes check who signed, the SDK's
// own tests check how.
func CheckSigV4(r *http.Request, accessKeyID, region, service string) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return fmt.Errorf("authorization: got %q, want AWS4-HMAC-SHA256", auth)
	}
	scope, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(scope, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return fmt.Errorf("credential scope: got %q, want key/date/region/service/aws4_request", scope)
	}
	if parts[0] != accessKeyID {
		return fmt.Errorf("access key id: got %q, want %q", parts[0], accessKeyID)
	}
	if region != "" && parts[2] != region {
		return fmt.Errorf("region: got %q, want %q", parts[2], region)
	}
	if parts[3] != service {
		return fmt.Errorf("service: got %q, want %q", parts[3], service)
	}
	if !strings.Contains(auth, "SignedHeaders=") || !strings.Contains(auth, "Signature=") {
		return fmt.Errorf("authorization %q: want SignedHeaders and Signature", auth)
	}
	if r.Header.Get("X-Amz-Date") == "" {
		return errors.New("x-amz-date: missing")
	}
	return nil
}

// CheckJSONRequest checks the parts of an AWS JSON 1.1 request every
// operation shares: POST /, the content type, an X-Amz-Target with
// targetPrefix, and SigV4 for the key, region and service.
func CheckJSONRequest(r *http.Request, targetPrefix, accessKeyID, region, service string) error {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return fmt.Errorf("request %s %s: want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != ContentType {
		return fmt.Errorf("content-type: got %q, want %q", ct, ContentType)
	}
	if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix) {
		return fmt.Errorf("x-amz-target: got %q, want %s*", r.Header.Get("X-Amz-Target"), targetPrefix)
	}
	return CheckSigV4(r, accessKeyID, region, service)
}

// WriteError answers an AWS JSON 1.1 error.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// WriteJSON answers v with the protocol's content type.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", ContentType)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrorResponse is an AWS JSON 1.1 error for a sinktest.HTTPFake, its body
// padded to about sinktest.FailureBodySize so that a client that does not
// drain bodies loses its connection.
func ErrorResponse(status int, code string) sinktest.Response {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": strings.Repeat("x", sinktest.FailureBodySize)})
	return sinktest.Response{
		Status: status,
		Header: http.Header{"Content-Type": {ContentType}, "X-Amzn-Errortype": {code}},
		Body:   b,
	}
}

// CallError is a whole-call error a fake answers with until it is
// cleared.
type CallError struct {
	Status     int
	Code       string
	RetryAfter string
}

// Write answers e: Retry-After when set, then the error with the message
// "scripted failure".
func (e *CallError) Write(w http.ResponseWriter) {
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	WriteError(w, e.Status, e.Code, "scripted failure")
}
