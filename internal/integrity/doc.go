// Package integrity makes the audit trail tamper-evident: Ed25519 keys by
// id (Keyring) and the signed JSON envelope both the journal's digests and
// the export digests use (SignJSON, VerifyJSON); the per-org hash chain
// over the journal and the Merkle trees of its signed digests; the
// digester that signs them; and the verifier behind `auditstream verify`.
// docs/integrity.md has the design and the threat model.
package integrity
