// Package field resolves detection-rule field names against Okta LogEvents (or any
// JSON object) held as raw bytes. It is the one place that says what a Sigma field
// name such as "target.displayName" means for an event, so that every rule front end
// (Sigma, Okta's catalog, native rules) and the correlation group-by agree.
//
// # Semantics (docs/DETECTIONS.md §5.2)
//
//   - A Path is a dotted field name, compiled once with ParsePath. Each segment is
//     looked up among an object's keys exactly first; when no key is equal, the first
//     key (in document order) equal under ASCII case folding is taken (and of keys
//     repeated exactly, the first). So "eventtype" and "eventType" both reach
//     eventType.
//   - Arrays fan out: a segment applied to an array applies to every element, and a
//     path ending on an array yields each element (arrays of arrays flatten). A
//     segment that is a non-negative decimal integer applied to an array is an index
//     ("target.0.displayName") and does not fan out.
//   - Scalars are yielded as text: strings unescaped, numbers and booleans by their
//     JSON text (so 'true' and JSON true compare equal as strings), null with Kind
//     Null. Objects are yielded with Kind Object and their compact JSON text (valid until the next Reset), for
//     string modifiers such as contains; rules decide that plain equality never
//     matches an object. JSON inside strings is never parsed.
//   - An absent path yields nothing; a JSON null yields one Null value; Exists tells
//     them apart from a caller's point of view.
//   - Strings yields every string value of the event (not keys), for Sigma keyword
//     searches.
//
// # Cost
//
// Reset parses the event once into a flat, reusable node table (no maps, no
// interface values); lookups walk that table. An Event is reused across events and
// allocates nothing in steady state. An Event is not safe for concurrent use; the
// bytes passed to Reset must not change until the next Reset, and a Value's Text is
// valid only during the callback that received it.
package field
