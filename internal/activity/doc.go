// Package activity keeps a profile per (org, user id) folded from the
// journal as events arrive (DETECTIONS.md §7): last sign-in success and
// failure, last MFA, and bounded top-N lists (IPs, countries, ASNs, user
// agents, devices, apps, factors, sessions) with first and last sighting
// and counts, the user's admin actions, the changes others made to the
// user, the detections about the user (security.detection.* events), and
// the user's events per UTC day over the last DailyDays days (Daily, the
// console's chart).
//
// The Store folds one journal message at a time (Apply) and stores the
// changed profiles and then its checkpoint in a JetStream KV bucket
// (Flush). Each profile records the journal position of the newest event
// in it, so an event is folded at most once per profile: after a restart
// from an older checkpoint, a redelivery or a crash between storing the
// profiles and the checkpoint. Lists are bounded (Limits): the stalest
// value goes and the eviction is counted in the profile and in a metric.
//
// Run (follow.go) is the reading loop: one ordered consumer per journal
// partition, each from its partition's cursor in the checkpoint, records
// decoded with journal.Decode. An org's events are in one partition, so a
// profile's positions all are too and compare as numbers.
//
// FirstSeen answers "first seen for this user" for the detection runtime,
// and API serves GET /api/v1/activity/users/{id} and its events.
package activity
