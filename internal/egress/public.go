package egress

import "strings"

// withheld replaces a destination's answer in what tenants see.
const withheld = " (answer body withheld)"

// ResponseBody is implemented by errors that carry what a destination
// answered (a snippet of a non-2xx body). PublicMessage leaves it out.
type ResponseBody interface {
	ResponseBody() string
}

// apiMessage is the AWS SDK's smithy.APIError: its message is the text of
// the answer's body.
type apiMessage interface {
	ErrorCode() string
	ErrorMessage() string
}

// PublicMessage is err's text without any destination's answer body:
// what every error in err's tree carries as ResponseBody (or, for AWS SDK
// errors, as ErrorMessage) is cut out and replaced by a note, so the
// status line ("500 Internal Server Error") and the context around it
// stay. Tenants see only this; the full text belongs in the logs. The
// destination is a tenant's choice and may be an internal service that
// answers with secrets: its answer must not come back through us.
func PublicMessage(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var bodies []string
	walk(err, func(e error) {
		if b, ok := e.(ResponseBody); ok {
			bodies = append(bodies, b.ResponseBody())
		}
		if a, ok := e.(apiMessage); ok {
			bodies = append(bodies, a.ErrorMessage())
		}
	})
	for _, b := range bodies {
		if strings.TrimSpace(b) == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, ": "+b, withheld)
		msg = strings.ReplaceAll(msg, b, strings.TrimSpace(withheld))
	}
	return msg
}

// walk calls f on err and every error it wraps, joined errors included.
func walk(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, f)
		}
	}
}
