package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, KeySize))
}

func TestNewKeyring(t *testing.T) {
	tests := []struct {
		name, text string
		wantIDs    string
		wantErr    string
	}{
		{"one bare key", testKey(1), DefaultKeyID(bytes.Repeat([]byte{1}, KeySize)), ""},
		{"ids, comments, current first", "# keys\nnew:" + testKey(2) + "\n\nold:" + testKey(1) + "\n", "new,old", ""},
		{"url-safe base64 without padding", "a:" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, KeySize)), "a", ""},
		{"short key", "a:" + base64.StdEncoding.EncodeToString([]byte("short")), "", "line 1: key is 5 bytes, want 32"},
		{"not base64", "a:???", "", "line 1: key is not base64"},
		{"duplicate id", "a:" + testKey(1) + "\na:" + testKey(2), "", `line 2: key id "a" appears twice`},
		{"bad id", "a b:" + testKey(1), "", `key id "a b"`},
		{"empty", "# nothing\n", "", "no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeyring(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(k.IDs(), ","); got != tt.wantIDs {
				t.Fatalf("got ids %s, want %s", got, tt.wantIDs)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	old, err := NewKeyring("k1:" + testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewKeyring("k2:" + testKey(2) + "\nk1:" + testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	only2, err := NewKeyring("k2:" + testKey(2))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"password":"hunter2-secret"}`)
	v1, err := old.Seal("bucket", "rec1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(v1) || bytes.Contains(v1, []byte("hunter2")) || !strings.HasPrefix(string(v1), "enc:v1:k1:") {
		t.Fatalf("got %s, want enc:v1:k1:… without the plain text", v1)
	}
	if id, _ := SealedKeyID(v1); id != "k1" {
		t.Fatalf("got key id %q, want k1", id)
	}
	v2, err := rotated.Seal("bucket", "rec1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := SealedKeyID(v2); id != "k2" {
		t.Fatalf("got key id %q, want the current key k2", id)
	}
	// One ciphertext character changed, still valid base64.
	tampered := bytes.Clone(v1)
	i := len(tampered) - 10
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	tests := []struct {
		name    string
		ring    *Keyring
		bucket  string
		record  string
		stored  []byte
		want    string
		wantErr error
	}{
		{"clear passes", nil, "bucket", "rec1", plain, string(plain), nil},
		{"same key", old, "bucket", "rec1", v1, string(plain), nil},
		{"old key after rotation", rotated, "bucket", "rec1", v1, string(plain), nil},
		{"no key", nil, "bucket", "rec1", v1, "", ErrNoKey},
		{"unknown key id", only2, "bucket", "rec1", v1, "", ErrUnknownKey},
		{"moved to another record", old, "bucket", "rec2", v1, "", ErrTampered},
		{"moved to another bucket", old, "other", "rec1", v1, "", ErrTampered},
		{"tampered", old, "bucket", "rec1", tampered, "", ErrTampered},
		{"key id swapped", rotated, "bucket", "rec1", []byte(strings.Replace(string(v1), ":k1:", ":k2:", 1)), "", ErrTampered},
		{"truncated", old, "bucket", "rec1", []byte("enc:v1:k1:AAAA"), "", ErrTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Open(tt.bucket, tt.record, tt.stored)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr != ErrTampered && !strings.Contains(err.Error(), `"k1"`) {
					t.Fatalf("got %v, want the key id named", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v, want %s", got, err, tt.want)
			}
		})
	}
}

func TestLoadKeyring(t *testing.T) {
	if k, err := LoadKeyring("", ""); k != nil || err != nil {
		t.Fatalf("got %v, %v, want no keyring and no error", k, err)
	}
	if _, err := LoadKeyring(testKey(1), "/some/file"); err == nil {
		t.Fatal("got no error with both set, want one")
	}
	k, err := LoadKeyring(testKey(1), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.CurrentID(), DefaultKeyID(bytes.Repeat([]byte{1}, KeySize)); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := LoadKeyring("", "/does/not/exist"); err == nil || !strings.Contains(err.Error(), "secrets.keyFile") {
		t.Fatalf("got %v, want an error naming secrets.keyFile", err)
	}
}
