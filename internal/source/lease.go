package source

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// LeaseTTL is how long a node holds a polling source without renewing it.
// Nodes renew every reconcile tick (2 s), so a node that dies hands its
// sources over within LeaseTTL.
const LeaseTTL = 15 * time.Second

// LeasePrefix starts the keys of the sources' leases in BucketState
// (package lease keeps them).
const LeasePrefix = "lease."

// newNodeID names a node that was given no id (tests).
func newNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
