package exportdigest_test

import (
	"crypto/ed25519"
	"crypto/rand"
)

// keyring is a test signer with keys by id; the newest signs.
type keyring struct {
	ids  []string
	keys map[string]ed25519.PrivateKey
}

func newKeyring(ids ...string) *keyring {
	k := &keyring{keys: map[string]ed25519.PrivateKey{}}
	for _, id := range ids {
		k.add(id)
	}
	return k
}

func (k *keyring) add(id string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k.ids = append(k.ids, id)
	k.keys[id] = priv
}

func (k *keyring) Sign(msg []byte) (string, []byte) {
	id := k.ids[len(k.ids)-1]
	return id, ed25519.Sign(k.keys[id], msg)
}

func (k *keyring) lookup(id string) (ed25519.PublicKey, bool) {
	p, ok := k.keys[id]
	if !ok {
		return nil, false
	}
	return p.Public().(ed25519.PublicKey), true
}
