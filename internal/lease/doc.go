// Package lease gives work to one node at a time when several nodes share
// the journal: a polling source (package source) and a log stream
// (package stream) each run only on the node that holds their lease.
//
// A lease is a KV entry {node, expires} changed only with compare-and-set
// on its revision (Leases). A node renews a lease it holds with the
// revision it last wrote, not one it reads again, so a node that was
// paused or cut off finds its renewal refused once another node took the
// lease over: it must stop the work at once (fencing). Expiry compares the
// writer's clock with the reader's: the nodes' clocks must agree to well
// within TTL (NTP does).
//
// Nodes announces each live node (a heartbeat entry per node) and picks
// the preferred node of a piece of work among the live ones by rendezvous
// hashing (Preferred), so work spreads over the nodes and moves only when
// the node it prefers joins or leaves.
package lease
