package activity

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendProfileSameAsJSON checks appendProfile against encoding/json
// on random profiles: empty and nil lists and maps, omitted members,
// strings that need escaping (quotes, control bytes, HTML characters,
// non-ASCII, invalid UTF-8), times in other zones and with nanoseconds;
// and that a time encoding/json refuses is reported.
func TestAppendProfileSameAsJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "a", "00u1", "j.doe@example.com", `q"uote`, `back\slash`, "tab\there", "<script>&", "héllo",
		"\u2028sep", "bad\xffutf8", "ctl\x01\x1f", "del\x7f", "emoji 😀"}
	s := func() string { return strs[rng.IntN(len(strs))] }
	zone := time.FixedZone("x", -5*3600)
	tm := func() time.Time {
		switch rng.IntN(4) {
		case 0:
			return time.Time{}
		case 1:
			return time.Unix(rng.Int64N(2e9), rng.Int64N(1e9)).In(zone)
		default:
			return time.Unix(rng.Int64N(2e9), rng.Int64N(1e9)).UTC()
		}
	}
	stamp := func() *Stamp {
		if rng.IntN(2) == 0 {
			return nil
		}
		return &Stamp{Time: tm(), UUID: s(), Event: s(), IP: s(), Result: s(), Reason: s(), Factor: s()}
	}
	actions := func() []Action {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []Action{}
		}
		var as []Action
		for range rng.IntN(4) + 1 {
			as = append(as, Action{Time: tm(), UUID: s(), Event: s(), Result: s(), Actor: s(), Target: s()})
		}
		return as
	}
	for n := range 2000 {
		p := &Profile{Org: s(), UserID: s(), Login: s(), DisplayName: s(), Position: rng.Uint64(),
			AsActor: rng.Int64N(1000) - 10, AsTarget: rng.Int64N(1000), First: tm(), Last: tm(),
			LastSignIn: stamp(), LastSignInFailure: stamp(), LastMFA: stamp(),
			AdminActions: actions(), ChangesByOthers: actions()}
		if rng.IntN(4) > 0 {
			p.Lists = map[Kind][]Item{}
			for range rng.IntN(5) {
				var items []Item
				if rng.IntN(5) > 0 {
					items = []Item{}
					for range rng.IntN(3) {
						items = append(items, Item{Value: s(), Label: s(), First: tm(), Last: tm(), FirstPos: rng.Uint64(),
							Count: rng.Int64N(100), OK: rng.Int64N(10), Fail: rng.Int64N(10)})
					}
				}
				p.Lists[Kinds[rng.IntN(len(Kinds))]] = items
				if rng.IntN(6) == 0 {
					p.Lists[Kind(s())] = items
				}
			}
		}
		switch rng.IntN(3) {
		case 1:
			p.Detections = []Detection{}
		case 2:
			for range rng.IntN(3) + 1 {
				p.Detections = append(p.Detections, Detection{ID: s(), Rule: s(), Title: s(), Level: s(), First: tm(), Last: tm(),
					UUID: s(), Count: rng.Int64N(9), Status: s(), Note: s(), Updated: tm()})
			}
		}
		switch rng.IntN(3) {
		case 1:
			p.Evicted = map[string]int64{}
		case 2:
			p.Evicted = map[string]int64{s(): 1, "adminActions": 3, string(KindIP): rng.Int64N(50)}
		}
		if rng.IntN(3) > 0 {
			p.Daily = new(Daily)
			for range rng.IntN(200) {
				p.Daily.add(time.Unix(1.7e9+rng.Int64N(200*86400), 0).In(zone))
			}
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendProfile([]byte("prefix"), p)
		if !ok || !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("profile %d: ok %v\ngot  %s\nwant %s", n, ok, got[len("prefix"):], want)
		}
	}

	p := &Profile{Org: "acme", UserID: "u", Lists: map[Kind][]Item{KindIP: {{Value: "1.2.3.4", Last: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}}
	if _, err := json.Marshal(p); err == nil {
		t.Fatal("encoding/json encoded the year 10000")
	}
	if _, ok := appendProfile(nil, p); ok {
		t.Error("appendProfile: got ok for the year 10000, want false (encoding/json's error)")
	}
}

// BenchmarkEncodeProfile is one full profile (every list at its default
// limit of 50, 50 admin actions and changes by others, 50 detections)
// encoded as Flush writes it, by encoding/json and by appendProfile.
func BenchmarkEncodeProfile(b *testing.B) {
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 123456789, time.UTC)
	p := newProfile("acme", "00u1abcdefghijklmn")
	p.Login, p.DisplayName, p.Position, p.AsActor, p.First, p.Last = "john.doe@example.com", "John Doe", 1<<40, 12345, t0, t0
	p.LastSignIn = &Stamp{Time: t0, UUID: "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a", Event: "user.session.start", IP: "10.0.0.1", Result: "SUCCESS"}
	for _, k := range Kinds {
		for i := range 50 {
			p.Lists[k] = append(p.Lists[k], Item{Value: string(k) + "-value-" + string(rune('a'+i%26)) + "-12345", Label: "Mac OS X / CHROME",
				First: t0, Last: t0.Add(time.Duration(i) * time.Second), FirstPos: uint64(i) << 20, Count: int64(i), OK: 3, Fail: 1})
		}
	}
	for i := range 50 {
		a := Action{Time: t0.Add(-time.Duration(i) * time.Second), UUID: "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a", Event: "user.account.update_profile",
			Result: "SUCCESS", Actor: "admin@example.com", Target: "jane.doe@example.com"}
		p.AdminActions = append(p.AdminActions, a)
		p.ChangesByOthers = append(p.ChangesByOthers, a)
		p.Detections = append(p.Detections, Detection{ID: "det-" + a.UUID, Rule: "okta_mfa_fatigue", Title: "MFA fatigue", Level: "high",
			First: a.Time, Last: a.Time, UUID: a.UUID, Count: 2, Status: DetectionOpen})
	}
	p.Daily = new(Daily)
	for i := range DailyDays {
		p.Daily.add(t0.AddDate(0, 0, i-DailyDays+1))
	}
	want, _ := json.Marshal(p)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendProfile", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		var buf []byte
		for b.Loop() {
			buf, _ = appendProfile(buf[:0], p)
		}
		if !bytes.Equal(buf, want) {
			b.Fatal("appendProfile differs from encoding/json")
		}
	})
}
