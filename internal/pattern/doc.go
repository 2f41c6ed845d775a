// Package pattern implements the Amazon EventBridge event pattern language, which
// auditstream uses to filter log streams and rules. A pattern that works on an
// EventBridge rule gives the same answer here; a pattern accepted here is meant to be
// accepted by AWS. The specification is docs/PATTERNS.md (shared docs); the tests run
// the AWS-validated LocalStack corpus.
//
// # Use
//
// Compile checks a pattern and returns a *Pattern, or an *Error whose Error() is AWS's
// "Event pattern is not valid. Reason: <reason>" with AWS's (or event-ruler's) reason
// text. Pattern.Match tests one event. A Set holds many patterns (hundreds to thousands
// of log streams and rules) and Set.MatchAll returns all that match an event in one pass
// over it: the event is flattened once into pooled buffers, recording values only at the
// paths some pattern names (subtrees no pattern names are validated by a flat,
// non-recursive skip); candidates are found by field path, by (path, exact string)
// through a hash map, and by shared key tests; only candidates are evaluated, and each
// distinct leaf test (same path and text) runs at most once per event however many
// rules share it. Matching allocates nothing on the common path. Envelope, MatchEnvelope
// and Set.MatchAllEnvelope match a stored LogEvent as the detail of an EventBridge
// envelope without building the envelope's JSON.
//
// Patterns and Sets are safe for concurrent use. Set.Add and Set.Remove invalidate the
// Set's index; the next match rebuilds it once.
//
// # Semantics
//
// Events are matched as EventBridge events (version, id, detail-type, source, account,
// time, region, resources, detail). Summary:
//
//   - Fields named in a pattern are ANDed; the items of a leaf array are ORed and may mix
//     kinds; fields the pattern does not name are ignored.
//   - Strings match exactly; numbers by value (300 = 300.0 = 3.0e2), and numbers too large
//     for float64 still match by their text; true, false and null match only themselves.
//     Types never cross ("300" ≠ 300, null ≠ "null").
//   - Event arrays: a leaf matches when any element matches; arrays of arrays are
//     flattened; the array level of arrays of objects is transparent. Values that satisfy
//     one rule must come from the same element of every array they share (array
//     consistency, as event-ruler's rulesForJSONEvent).
//   - A missing key, null, "", [] and objects differ as in PATTERNS.md §3.2: objects and
//     [] are not values; exists:true needs a value (null counts); exists:false holds when
//     the path has no value anywhere in the event; anything-but needs a value, and null
//     or a value of another type is "not excluded".
//   - Dotted keys in patterns and events are the same as nesting ("a.b" ≡ a → b).
//   - JSON inside strings is never parsed.
//   - Operators: prefix, suffix (also with equals-ignore-case inside), equals-ignore-case
//     (Unicode simple case folding; prefix and suffix fold both sides rune by rune),
//     wildcard (* only, with \* and \\ escapes; ** rejected), anything-but in every form
//     (value, list, prefix, suffix, equals-ignore-case, wildcard, including lists), numeric
//     (=, <, <=, >, >= and ranges, compared as float64), cidr (IPv4 and IPv6 via
//     net/netip), exists, and $or at any depth. Exact strings written like IP addresses
//     match every spelling of the address, as in event-ruler.
//   - A key repeated in one object: the last write to a leaf path wins. Objects under a
//     repeated key merge, leaf by leaf, as in event-ruler.
//   - $or expands into the cross product of its alternatives; more than
//     DefaultMaxCombinations (configurable) is an error.
//
// # Limits
//
// Pattern text is limited to DefaultMaxLength bytes as submitted, wildcards to a
// complexity of DefaultMaxWildcardComplexity (event-ruler's MachineComplexityEvaluator
// measure: the most wildcard prefixes one input can match at once), numeric operands to
// ±5.0e9 with at most 6 decimal places (WithStrictNumericOperands), pattern nesting to 256
// levels. Events nested deeper than MaxEventDepth (1,000) levels, malformed event JSON
// and a top level that is not an object match nothing; the flattener recurses at most
// MaxEventDepth deep. The search for array-consistent combinations in one rule is
// bounded (65,536 steps); an event that exhausts it does not match that rule.
//
// # Deliberate differences from AWS
//
// All 155 cases of the AWS-validated corpus and the duplicate-key case agree with AWS;
// the corpus test's allow-list is empty. Known, deliberate differences elsewhere:
//
//   - Reasons AWS has not published use auditstream's wording: "Event pattern is too long
//     (n > max bytes)", "Too many $or combinations (n > max)", the strict numeric operand
//     check ("Numeric operand must be between -5.0E9 and 5.0E9 with at most 6 decimal
//     places: x"), "Event pattern is nested too deeply", and malformed JSON
//     ("Unexpected character (...)", "Unexpected end-of-input", ...).
//   - Strict numeric operands follow the 2023 user guide; current AWS may accept more.
//   - cidr follows event-ruler: IPv4 /32 and IPv6 /128 are rejected (write the address as
//     a plain string instead), as are negative mask bits.
//   - "Invalid escape character at pos n" reports the position in the operand wrapped in
//     quotes, as event-ruler parses it (the backslash's 0-based index plus one).
//   - The wildcard complexity threshold is calibrated on AWS's recorded answers; AWS's own
//     threshold is unpublished. Complexity is measured per field of one pattern, not over
//     a whole event bus.
//   - exists:false inside arrays of objects is evaluated over the whole event (the path
//     has no value in any element), not per array element.
package pattern
