package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// decodeIDs is the reference: decodeHook's uuids.
func decodeIDs(t testing.TB, raw []byte) ([]string, bool) {
	t.Helper()
	evs, err := decodeHook(raw)
	if err != nil {
		return nil, false
	}
	var ids []string
	for _, e := range evs {
		id := e.UUID
		if id == "" && e.Detail != nil {
			id = e.Detail.UUID
		}
		ids = append(ids, id)
	}
	return ids, true
}

func TestScanHookUUIDs(t *testing.T) {
	okta, err := os.ReadFile(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(okta), []byte("\n"))
	array := append(append([]byte("["), bytes.Join(lines, []byte(","))...), ']')
	cases := map[string]string{
		"okta array":       string(array),
		"okta ndjson":      string(okta),
		"eventbridge":      `[{"id":"e1","detail":{"uuid":"d-1","x":{"uuid":"nested"}}},{"detail":{"a":[1,{"uuid":"n"}]},"uuid":"top"}]`,
		"nested uuid only": `[{"actor":{"uuid":"not-this"},"uuid":"u-1"},{"target":[{"uuid":"x"}]}]`,
		"escapes":          `[{"a":"q\"uote\\","uuid":"u\u002d2","b":"}]"}]`,
		"numbers literals": `[{"n":-1.5e3,"t":true,"f":false,"z":null,"uuid":"u-3"}]`,
		"empty array":      `[]`,
		"spaces":           " [ { \"uuid\" : \"u-4\" } , {\"uuid\":\"u-5\"} ] \n",
		"single object":    `{"uuid":"u-6"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			want, _ := decodeIDs(t, []byte(body))
			got, ok := scanHookUUIDs([]byte(body), nil)
			if !ok || !slices.Equal(got, want) {
				t.Errorf("got %q (ok %v), want %q", got, ok, want)
			}
		})
	}
	if ids, _ := decodeIDs(t, array); len(ids) != len(lines) {
		t.Fatalf("reference: got %d ids, want %d", len(ids), len(lines))
	}
	for _, bad := range []string{`[{"uuid":"u"`, `[{"uuid" "u"}]`, `[{"uuid":"u"},]x`, `{"uuid":"u`, `[1,2]`} {
		if got, ok := scanHookUUIDs([]byte(bad), nil); ok {
			t.Errorf("%s: got %q ok, want not ok (decodeHook decides)", bad, got)
		}
	}
}

// FuzzScanHookUUIDs: where both read a body, they read the same uuids.
func FuzzScanHookUUIDs(f *testing.F) {
	f.Add([]byte(`[{"uuid":"a","detail":{"uuid":"b"}},{"detail":{"uuid":"c"}}]`))
	f.Add([]byte(`{"uuid":"a"}` + "\n" + `{"x":[{"uuid":"n"}],"uuid":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, okRef := decodeIDs(t, b)
		got, ok := scanHookUUIDs(b, nil)
		if ok && okRef && !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", b, got, want)
		}
	})
}

func BenchmarkReceiverDecode(b *testing.B) {
	okta, err := os.ReadFile(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(okta), []byte("\n"))
	var body bytes.Buffer
	body.WriteByte('[')
	for i := range 1000 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(lines[i%len(lines)])
	}
	body.WriteByte(']')
	raw := body.Bytes()
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		var ids []string
		for b.Loop() {
			var ok bool
			if ids, ok = scanHookUUIDs(raw, ids[:0]); !ok {
				b.Fatal("scan failed")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := decodeHook(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
