package journal

import (
	"bytes"
	"sync"
	"testing"
)

func TestSharedKey(t *testing.T) {
	j := openTest(t, t.TempDir())
	defer j.Close()
	kv, err := j.KV(t.Context(), "test_keys")
	if err != nil {
		t.Fatal(err)
	}
	// Nodes that start together all end up with the key stored first.
	const nodes = 8
	keys := make([][]byte, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { keys[i], errs[i] = SharedKey(t.Context(), kv, "a") })
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("node %d: got key %x, want the 32 bytes %x every node has", i, keys[i], keys[0])
		}
	}
	stored, err := kv.Get(t.Context(), "a")
	if err != nil || !bytes.Equal(stored.Value(), keys[0]) {
		t.Fatalf("stored key: got %v (%v), want the key the nodes use", stored, err)
	}
	again, err := SharedKey(t.Context(), kv, "a")
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("second call: got %x (%v), want the stored key", again, err)
	}
	other, err := SharedKey(t.Context(), kv, "b")
	if err != nil || len(other) != 32 || bytes.Equal(other, keys[0]) {
		t.Fatalf("other name: got %x (%v), want a key of its own", other, err)
	}
}
