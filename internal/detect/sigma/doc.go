// Package sigma loads Sigma rules (specification v2.1.0): detection rules compiled
// to predicates over a field.Event, correlation rules validated into plain structs
// for the correlation engine, and filters applied to the rules they name. It is the
// rule front end only: no state, no windows, no I/O beyond reading rule files.
//
// # Loading
//
// LoadDir, LoadFS and LoadFiles load a pack (a set of .yml/.yaml files, each holding
// one or more YAML documents) with an Overlay (placeholder values, field aliases).
// Every document ends up either loaded (Pack.Rules, Pack.Correlations, Pack.Filters)
// or in Pack.Refused with its file, line and the reason: a rule the engine cannot
// honour is never silently ignored. A document without an id gets one derived from
// its pack-relative path (plus "#n" for the n-th document of a file), with a warning.
//
// # Detection semantics
//
// Field names are LogEvent paths resolved by package field (exact, then
// case-insensitive segments; arrays fan out; scalars compared as their text), after
// the overlay's aliases. Values: strings with * and ? wildcards and \ escapes
// (\*, \?, \\; a backslash before anything else is literal), compared
// case-insensitively unless cased; numbers and booleans by their text; null matches
// an absent field or JSON null; ” only the empty string. A list of values is an OR
// (an AND with all). A map is an AND of its fields, a list of maps an OR, a list of
// plain values a keyword search (case-insensitive contains over every string value
// of the event). Objects are compared by their compact JSON text for wildcard
// matches only.
//
// Modifiers: contains, startswith, endswith, all, cased, neq (no value equal; an
// absent field matches), exists, re with i, m, s (Go RE2 syntax, unanchored search;
// expressions RE2 rejects are refused), cidr (IPv4 and IPv6), lt, lte, gt, gte
// (numbers and numeric strings), minute, hour, day, week (ISO), month, year (parts of
// an RFC 3339 time in UTC, equal to the value or compared with lt/lte/gt/gte),
// fieldref (equal to, or with startswith/endswith/contains, another field's value),
// expand (%name% placeholders from the overlay; unresolved refuses the rule),
// windash (each -, / starting a word spelled with -, /, en dash, em dash, horizontal
// bar), base64, base64offset, utf16le, utf16be, utf16 (with byte order mark), wide.
// Unknown modifiers and impossible combinations refuse the rule.
//
// Conditions: and, or, not, parentheses, "1 of" and "all of" a wildcard pattern or
// them (them excludes identifiers starting with _), with the specification's
// precedence; a list of conditions is an OR. The obsolete aggregation syntax (|,
// count(), near, timeframe) refuses the rule with "write a correlation rule".
//
// # Prefilter
//
// Rule.Prefilter returns, where the detection has one, a necessary condition: one of
// eventType, legacyEventType or displayMessage equal (case-insensitively) to one of
// a set of values. Prefilter.Pattern renders it as an EventBridge pattern with
// equals-ignore-case so the runtime can put every rule into one pattern.Set and run
// full evaluation on the candidates only.
//
// Compiled rules are immutable and safe for concurrent use; the field.Event passed
// to Rule.Match is not.
package sigma
