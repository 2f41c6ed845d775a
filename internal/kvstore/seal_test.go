package kvstore_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/secret"
)

const plainSecret = "B-WEBHOOK-PASSWORD-0123"

func keyring(t *testing.T, lines ...string) *secret.Keyring {
	t.Helper()
	k, err := secret.NewKeyring(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyLine(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, secret.KeySize))
}

// sealEnv is an embedded journal and one bucket.
type sealEnv struct {
	dir string
	j   *journal.Journal
	kv  jetstream.KeyValue
}

func newSealEnv(t *testing.T) *sealEnv {
	t.Helper()
	dir := t.TempDir()
	j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
	kv := journaltest.KV(t, j, "seal_test")
	return &sealEnv{dir: dir, j: j, kv: kv}
}

func (e *sealEnv) open(t *testing.T, k *secret.Keyring) (*kvstore.Store[rec], error) {
	t.Helper()
	s, err := kvstore.Open[rec](t.Context(), e.kv, "record", slog.New(slog.DiscardHandler), kvstore.WithCodec(k))
	if err == nil {
		t.Cleanup(s.Close)
	}
	return s, err
}

func (e *sealEnv) raw(t *testing.T, key string) []byte {
	t.Helper()
	v, err := e.kv.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v.Value()
}

// filesWith lists the journal's files that hold s.
func (e *sealEnv) filesWith(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSealedAtRest: with a codec, the bucket holds only ciphertext bound to
// its record; a store without the key, with another key, or over a
// tampered or moved value refuses to open, naming the record and key id.
func TestSealedAtRest(t *testing.T) {
	e := newSealEnv(t)
	k1 := keyring(t, keyLine("k1", 1))
	a, err := e.open(t, k1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Put(t.Context(), "r1", rec{Name: "one", Raw: plainSecret}); err != nil {
		t.Fatal(err)
	}
	raw := e.raw(t, "r1")
	if bytes.Contains(raw, []byte(plainSecret)) || !strings.HasPrefix(string(raw), "enc:v1:k1:") {
		t.Fatalf("raw value: got %s, want enc:v1:k1:… without the secret", raw)
	}
	if got, _ := a.Get("r1"); got.Raw != plainSecret {
		t.Fatalf("local read: got %+v, want the secret", got)
	}
	b, err := e.open(t, keyring(t, keyLine("k2", 2), keyLine("k1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get("r1"); got.Raw != plainSecret {
		t.Fatalf("read with the old key second: got %+v, want the secret", got)
	}
	a.Close()
	b.Close()

	for _, tc := range []struct {
		name    string
		ring    *secret.Keyring
		prepare func(t *testing.T)
		want    error
	}{
		{"no key", nil, nil, secret.ErrNoKey},
		{"unknown key id", keyring(t, keyLine("k2", 2)), nil, secret.ErrUnknownKey},
		{"moved from another record", k1, func(t *testing.T) {
			s, err := e.open(t, k1)
			if err == nil {
				err = s.Put(t.Context(), "r2", rec{Name: "two", Raw: "other"})
				s.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.kv.Put(t.Context(), "r1", e.raw(t, "r2")); err != nil {
				t.Fatal(err)
			}
		}, secret.ErrTampered},
		{"tampered", k1, func(t *testing.T) {
			v := bytes.Clone(e.raw(t, "r1"))
			i := len(v) - 5
			v[i] = map[bool]byte{true: 'B', false: 'A'}[v[i] == 'A']
			if _, err := e.kv.Put(t.Context(), "r1", v); err != nil {
				t.Fatal(err)
			}
		}, secret.ErrTampered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare(t)
			}
			_, err := e.open(t, tc.ring)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "record r1") {
				t.Fatalf("got %v, want %v naming record r1", err, tc.want)
			}
		})
	}
}

// TestResealRotatesAndErases: records written in clear and with an old key
// are all sealed with the new one, open with the new key alone, and no
// file of the journal keeps the clear text.
func TestResealRotatesAndErases(t *testing.T) {
	e := newSealEnv(t)
	clear, err := e.open(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"c1", "c2"} {
		if err := clear.Put(t.Context(), k, rec{Name: k, Raw: plainSecret}); err != nil {
			t.Fatal(err)
		}
	}
	// Replaced and deleted records leave their clear bytes in the files.
	if err := clear.Put(t.Context(), "c2", rec{Name: "c2", Raw: plainSecret + "-v2"}); err != nil {
		t.Fatal(err)
	}
	if err := clear.Put(t.Context(), "gone", rec{Name: "gone", Raw: plainSecret}); err != nil {
		t.Fatal(err)
	}
	if err := clear.Delete(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	clear.Close()
	old := keyring(t, keyLine("k1", 1))
	s1, err := e.open(t, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Put(t.Context(), "s1", rec{Name: "s1", Raw: "sealed-" + plainSecret}); err != nil {
		t.Fatal(err)
	}
	s1.Close()
	if len(e.filesWith(t, plainSecret)) == 0 {
		t.Fatal("the clear records are not in the journal's files; the test cannot show they are erased")
	}

	rotated := keyring(t, keyLine("k2", 2), keyLine("k1", 1))
	rep, err := kvstore.Reseal(t.Context(), e.j.JetStream(), "seal_test", rotated)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || rep.Clear != 2 {
		t.Fatalf("got %+v, want 3 records, 2 of them clear", rep)
	}
	for _, k := range []string{"c1", "c2", "s1"} {
		if id, _ := secret.SealedKeyID(e.raw(t, k)); id != "k2" {
			t.Fatalf("record %s: got key id %q, want k2", k, id)
		}
	}
	if files := e.filesWith(t, plainSecret); len(files) != 0 {
		t.Fatalf("clear text still in %v, want it erased", files)
	}
	s2, err := e.open(t, keyring(t, keyLine("k2", 2)))
	if err != nil {
		t.Fatalf("open with the new key alone: %v", err)
	}
	if got, _ := s2.Get("c2"); got.Raw != plainSecret+"-v2" {
		t.Fatalf("got %+v, want the newest value", got)
	}
	if _, ok := s2.Get("gone"); ok || len(s2.All()) != 3 {
		t.Fatalf("got %d records, want 3 and no deleted one", len(s2.All()))
	}
	if _, err := e.j.JetStream().KeyValue(t.Context(), "seal_test_reseal"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("backup bucket: got %v, want it removed", err)
	}
}

// TestResealRefusesUnknownKey writes nothing when a record does not open.
func TestResealRefusesUnknownKey(t *testing.T) {
	e := newSealEnv(t)
	s, err := e.open(t, keyring(t, keyLine("k1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "r1", rec{Name: "r1"}); err != nil {
		t.Fatal(err)
	}
	before := e.raw(t, "r1")
	_, err = kvstore.Reseal(t.Context(), e.j.JetStream(), "seal_test", keyring(t, keyLine("k2", 2)))
	if !errors.Is(err, secret.ErrUnknownKey) || !strings.Contains(err.Error(), "record r1") {
		t.Fatalf("got %v, want ErrUnknownKey naming record r1", err)
	}
	if after := e.raw(t, "r1"); !bytes.Equal(after, before) {
		t.Fatal("the record changed, want it untouched")
	}
}

// TestResealFinishesAnInterruptedRun: a run that stopped after the purge
// left the records only in the backup; the next run restores them.
func TestResealFinishesAnInterruptedRun(t *testing.T) {
	e := newSealEnv(t)
	k := keyring(t, keyLine("k1", 1))
	s, err := e.open(t, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"r1", "r2"} {
		if err := s.Put(t.Context(), key, rec{Name: key, Raw: plainSecret}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// What the interrupted run left: a complete backup, a purged bucket.
	js := e.j.JetStream()
	backup, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "seal_test_reseal", History: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"r1", "r2"} {
		if _, err := backup.Put(t.Context(), key, e.raw(t, key)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := backup.Put(t.Context(), "reseal.complete", []byte("1")); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), "KV_seal_test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}

	rep, err := kvstore.Reseal(t.Context(), js, "seal_test", keyring(t, keyLine("k2", 2), keyLine("k1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Recovered || rep.Records != 2 {
		t.Fatalf("got %+v, want 2 records recovered from the backup", rep)
	}
	s2, err := e.open(t, keyring(t, keyLine("k2", 2)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Get("r2"); got.Raw != plainSecret || len(s2.All()) != 2 {
		t.Fatalf("got %d records (%+v), want both back", len(s2.All()), got)
	}
}
