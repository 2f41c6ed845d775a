// Package wire holds the JSON shapes of auditstream's control-plane API
// as the server writes them and the client reads them: log streams
// (Stream), their delivery status (StreamStatus) and dead letters
// (DeadLetter), sources (Source) and their status (SourceStatus), and API
// tokens (Token). The server builds these values and the client decodes
// them, so a member is named, typed and documented once.
//
// It is a leaf: it imports the standard library only, so that the client
// never depends on the server's packages and the server's packages never
// depend on the client.
//
// Times: the created and lastUpdated members of streams and sources are
// written in Okta's format (Time, UTC with milliseconds); the other times
// are RFC 3339 with nanoseconds, as encoding/json writes a time.Time.
// Decoding takes "" and null as an unset (zero) time, since Okta-shaped
// servers write either.
package wire
