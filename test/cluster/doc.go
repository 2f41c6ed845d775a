// Package cluster is the cluster fault suite: three nats-server processes
// (JetStream, clustered) and three auditstream serve processes, with steady
// ingest and real delivery, to webhooks and to an S3 archive (versitygw),
// under faults (a killed or paused node, a killed NATS server or stream
// leader, a consumer leader step-down, rolling restarts, a network
// partition). Each fault checks that every event answered 2xx is
// delivered (for S3: is in some object), that duplicates stay bounded by
// the batches in flight, that each stream keeps the producers' order (for
// S3: within objects and across them, in the order of their journal
// ranges), that the S3 archive's signed export digests still verify, and
// how long delivery took to catch up. It runs from `go test ./...`.
//
// Needs: root (it makes a network namespace and veth pairs with `ip`), the
// `nats-server` and `versitygw` binaries (PATH, $(go env GOPATH)/bin,
// else built once into $(go env GOCACHE)/auditstream-tools), and Go to
// build auditstream.
// CLUSTER_RESULTS=FILE writes the faults' table rows to FILE; CLUSTER_FAULTS=TEXT runs
// only the faults whose name contains TEXT; CLUSTER_LOGS=DIR keeps the nodes' logs there.
package cluster
