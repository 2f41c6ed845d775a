// Package supervise is the one supervisor core behind log streams
// (package stream) and sources (package source): a Core keeps one piece of
// running work per active definition of a catalog in step with it, on
// every change and on a tick, keeps each definition's status and saves it
// to the shared status bucket, and cleans up after definitions that are
// deleted.
//
// What differs between the kinds is a Kind's hooks: when running work
// may go on serving a changed definition (Same), how work starts and
// stops (Start, Work.Stop), what a deleted definition leaves behind
// (Forget), and four optional extras: generations whose old consumer is
// retired (Retirer, a log stream's replay epoch), work that must be
// confirmed on every pass (Keeper, a lease), statuses only the holder of
// the work may save (Fencer, a log stream's owner), and background work
// of the kind's own to wait for on the way down (Drainer, a source's
// backfills).
//
// Statuses share one vocabulary of states (State) and one store
// (StatusStore), each kind under its own key prefix in the same bucket.
package supervise
