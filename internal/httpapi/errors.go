package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Okta error codes used by the API (OKTA.md §2.4).
const (
	CodeValidation    = "E0000001" // 400 parameter or body validation failed
	CodeMalformed     = "E0000003" // 400 the request body was not well-formed
	CodeForbidden     = "E0000006" // 403 the token lacks the scope
	CodeNotFound      = "E0000007" // 404
	CodeInternal      = "E0000009" // 500
	CodeInvalidToken  = "E0000011" // 401
	CodeUnsupportedOp = "E0000031" // 400 operator and field not supported
	CodeRateLimit     = "E0000047" // 429
	CodeInvalidFilter = "E0000053" // 400 invalid filter or parameter
	CodeTooLarge      = "E0000001" // 413 reuses the validation code: Okta has none for size
	CodeUnsupported   = "E0000001" // 415 reuses the validation code: Okta has none for media types
	CodeUnavailable   = "E0000009" // 503 journal unavailable or shutting down
	CodeFull          = "E0000009" // 507 the journal is full (Okta has no code for it)
	CodeMethod        = "E0000022" // 405 the endpoint does not support the method
)

// Error is an API error rendered as Okta's error body. Handlers return it
// (or any error: unknown errors become a 500 without their text).
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the Okta errorCode.
	Code string
	// Summary is errorSummary.
	Summary string
	// Causes become errorCauses, one errorSummary each.
	Causes []string
	// RetryAfter, when positive, is sent as a Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Summary)
}

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Summary: fmt.Sprintf(format, args...)}
}

// WithCauses returns e with causes appended.
func (e *Error) WithCauses(causes ...string) *Error {
	e.Causes = append(e.Causes, causes...)
	return e
}

type errorCause struct {
	ErrorSummary string `json:"errorSummary"`
}

type errorBody struct {
	ErrorCode    string       `json:"errorCode"`
	ErrorSummary string       `json:"errorSummary"`
	ErrorLink    string       `json:"errorLink"`
	ErrorID      string       `json:"errorId"`
	ErrorCauses  []errorCause `json:"errorCauses"`
}

// WriteError renders err as Okta's error body. Errors that are not *Error
// are logged and answered with a generic 500, so internal details never
// reach a client.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log.Error("request failed", "err", err)
		e = Errorf(http.StatusInternalServerError, CodeInternal, "Internal Server Error")
	}
	body := errorBody{
		ErrorCode:    e.Code,
		ErrorSummary: e.Summary,
		ErrorLink:    e.Code,
		ErrorID:      newErrorID(),
		ErrorCauses:  []errorCause{},
	}
	for _, c := range e.Causes {
		body.ErrorCauses = append(body.ErrorCauses, errorCause{ErrorSummary: c})
	}
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	WriteJSON(w, e.Status, body)
}

func newErrorID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return "oae" + base64.RawURLEncoding.EncodeToString(b[:])[:20]
}

// WriteJSON writes v as JSON with status, without escaping HTML.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Malformed is the 400 of a body that is not well-formed, with cause.
func Malformed(cause string) *Error {
	return Errorf(http.StatusBadRequest, CodeMalformed, "The request body was not well-formed.").WithCauses(cause)
}

// Forbidden is the 403 of a token that may not do what it asks, with
// cause.
func Forbidden(cause string) *Error {
	return Errorf(http.StatusForbidden, CodeForbidden, "You do not have permission to perform the requested action").
		WithCauses(cause)
}

// ValidationError turns joined validation errors into a 400 ("Api
// validation failed: what") with one cause per problem.
func ValidationError(what string, err error) *Error {
	e := Errorf(http.StatusBadRequest, CodeValidation, "Api validation failed: %s", what)
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			e.Causes = append(e.Causes, line)
		}
	}
	return e
}
