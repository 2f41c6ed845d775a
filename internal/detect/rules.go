package detect

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/pattern"
)

// MaxUploadsPerOrg bounds the rules one org may upload: every rule costs
// every org some evaluation time (the prefilter runs for all events).
const MaxUploadsPerOrg = 100

// BucketRules holds rules uploaded through the API and which rules each org
// disabled.
const BucketRules = "auditstream_detect_rules"

// uploaded is an uploaded rule as stored.
type uploaded struct {
	Org     string    `json:"org"`
	ID      string    `json:"id"`
	YAML    string    `json:"yaml"`
	Created time.Time `json:"created"`
}

func ruleKey(org, id string) string { return "rule." + org + "." + hex.EncodeToString([]byte(id)) }
func offKey(org, id string) string  { return "off." + org + "." + hex.EncodeToString([]byte(id)) }

// RulesConfig is what Rules are built from.
type RulesConfig struct {
	Routes []Route
	// Packs are the packs of the config file, already loaded.
	Packs []*Pack
	// KV is BucketRules; nil keeps only the packs (no uploads, every rule on).
	KV       jetstream.KeyValue
	Patterns []pattern.Option
	// Engine is the correlation engine's configuration: rules it would refuse
	// are refused at load (Registry.Check).
	Engine correlate.Config
	// FirstSeen is true when the runtime is given a FirstSeenSource (the
	// activity profiles); false lists rules using firstSeen as "no source".
	FirstSeen bool
	Log       *slog.Logger
}

// Rules is the live RuleSource: the config's packs plus the rules uploaded
// through the API, and each org's disabled rules, kept current from the KV
// bucket by Run.
type Rules struct {
	cfg      RulesConfig
	log      *slog.Logger
	reg      atomic.Pointer[Registry]
	off      atomic.Pointer[map[string]bool]
	changed  chan struct{}
	mu       sync.Mutex
	uploads  map[string]uploaded // by key
	disabled map[string]bool     // org \x00 id
}

// OpenRules loads the uploaded rules and disabled marks and builds the
// registry.
func OpenRules(ctx context.Context, cfg RulesConfig) (*Rules, error) {
	r := &Rules{cfg: cfg, log: cfg.Log, changed: make(chan struct{}, 1), uploads: map[string]uploaded{}, disabled: map[string]bool{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.KV != nil {
		lister, err := cfg.KV.ListKeys(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, fmt.Errorf("detection rules: %w", err)
		}
		if lister != nil {
			for k := range lister.Keys() {
				e, err := cfg.KV.Get(ctx, k)
				if err != nil {
					continue
				}
				r.apply(e.Key(), e.Value(), false)
			}
		}
	}
	r.rebuild()
	return r, nil
}

// apply records one bucket entry (del: removed).
func (r *Rules) apply(key string, val []byte, del bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case strings.HasPrefix(key, "rule."):
		if del {
			delete(r.uploads, key)
			return
		}
		var u uploaded
		if json.Unmarshal(val, &u) == nil {
			r.uploads[key] = u
		}
	case strings.HasPrefix(key, "off."):
		parts := strings.SplitN(key, ".", 3)
		if len(parts) != 3 {
			return
		}
		id, err := hex.DecodeString(parts[2])
		if err != nil {
			return
		}
		k := parts[1] + "\x00" + string(id)
		if del {
			delete(r.disabled, k)
		} else {
			r.disabled[k] = true
		}
	}
}

func (r *Rules) rebuild() {
	r.mu.Lock()
	packs := append([]*Pack(nil), r.cfg.Packs...)
	for _, u := range r.uploads {
		packs = append(packs, uploadPack(u.Org, u.YAML, r.cfg.Patterns))
	}
	off := make(map[string]bool, len(r.disabled))
	for k := range r.disabled {
		off[k] = true
	}
	r.mu.Unlock()
	reg := NewRegistry(r.cfg.Routes, packs...)
	if !r.cfg.FirstSeen {
		reg.WithoutFirstSeen()
	}
	reg.Check(r.cfg.Engine)
	r.reg.Store(reg)
	r.off.Store(&off)
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// rebuildOff refreshes only the disabled marks (no new rules: the engine
// keeps running).
func (r *Rules) rebuildOff() {
	r.mu.Lock()
	off := make(map[string]bool, len(r.disabled))
	for k := range r.disabled {
		off[k] = true
	}
	r.mu.Unlock()
	r.off.Store(&off)
}

// uploadPack loads an uploaded rule file as the one-file pack of its org.
func uploadPack(org, doc string, popts []pattern.Option) *Pack {
	name := "upload.yml"
	return LoadPack("uploaded", org, []sigma.File{{Name: name, Data: []byte(doc)}}, nil, popts...)
}

// Run keeps the rules current with the bucket until ctx ends.
func (r *Rules) Run(ctx context.Context) error {
	if r.cfg.KV == nil {
		<-ctx.Done()
		return nil
	}
	for ctx.Err() == nil {
		w, err := r.cfg.KV.WatchAll(ctx, jetstream.UpdatesOnly())
		if err != nil {
			r.log.Warn("detection rules: watch", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			r.apply(e.Key(), e.Value(), e.Operation() != jetstream.KeyValuePut)
			if strings.HasPrefix(e.Key(), "off.") {
				r.rebuildOff()
			} else {
				r.rebuild()
			}
		}
		_ = w.Stop()
	}
	return nil
}

// Registry returns the current rules.
func (r *Rules) Registry() *Registry { return r.reg.Load() }

// Changed fires when the rules changed.
func (r *Rules) Changed() <-chan struct{} { return r.changed }

// Enabled reports whether org has not disabled rule id.
func (r *Rules) Enabled(org, id string) bool {
	m := r.off.Load()
	return m == nil || !(*m)[org+"\x00"+id]
}

// Upload checks a rule file for org and stores it: it must load (every
// document) and its ids must not be taken. It returns the rules' infos, or
// an error listing every problem.
func (r *Rules) Upload(ctx context.Context, org string, doc []byte) ([]Info, error) {
	if r.cfg.KV == nil {
		return nil, errors.New("uploads are not enabled")
	}
	p := uploadPack(org, string(doc), r.cfg.Patterns)
	var probs []string
	var ids []string
	for _, in := range p.Infos {
		if in.Status != StatusLoaded {
			probs = append(probs, fmt.Sprintf("line %d: %s", in.Line, in.Reason))
			continue
		}
		if have, ok := r.Registry().Info(in.ID); ok && (have.Org != org || have.Pack != "uploaded") {
			probs = append(probs, fmt.Sprintf("id %s is already used by another rule", in.ID))
		}
		ids = append(ids, in.ID)
	}
	if len(p.Infos) == 0 {
		probs = append(probs, "no rule in the body")
	}
	if len(ids) != 1 && len(probs) == 0 {
		probs = append(probs, "upload one rule per request")
	}
	if len(ids) == 1 {
		r.mu.Lock()
		n := 0
		for k, u := range r.uploads {
			if u.Org == org && k != ruleKey(org, ids[0]) {
				n++
			}
		}
		r.mu.Unlock()
		if n >= MaxUploadsPerOrg {
			probs = append(probs, fmt.Sprintf("an org may upload at most %d rules: delete one first", MaxUploadsPerOrg))
		}
	}
	if len(probs) > 0 {
		return nil, &UploadError{Problems: probs}
	}
	b, _ := json.Marshal(uploaded{Org: org, ID: ids[0], YAML: string(doc), Created: time.Now().UTC()})
	if _, err := r.cfg.KV.Put(ctx, ruleKey(org, ids[0]), b); err != nil {
		return nil, err
	}
	r.apply(ruleKey(org, ids[0]), b, false)
	r.rebuild()
	return p.Infos, nil
}

// Delete removes org's uploaded rule id; false when there is none.
func (r *Rules) Delete(ctx context.Context, org, id string) (bool, error) {
	r.mu.Lock()
	_, ok := r.uploads[ruleKey(org, id)]
	r.mu.Unlock()
	if !ok || r.cfg.KV == nil {
		return false, nil
	}
	if err := r.cfg.KV.Delete(ctx, ruleKey(org, id)); err != nil {
		return false, err
	}
	r.apply(ruleKey(org, id), nil, true)
	r.rebuild()
	return true, nil
}

// SetEnabled enables or disables rule id for org.
func (r *Rules) SetEnabled(ctx context.Context, org, id string, on bool) error {
	if r.cfg.KV == nil {
		return errors.New("enable/disable is not available without the rules bucket")
	}
	var err error
	if on {
		err = r.cfg.KV.Delete(ctx, offKey(org, id))
	} else {
		_, err = r.cfg.KV.Put(ctx, offKey(org, id), []byte("1"))
	}
	if err != nil {
		return err
	}
	r.apply(offKey(org, id), []byte("1"), on)
	r.rebuildOff()
	return nil
}

// UploadError lists why an uploaded rule was refused.
type UploadError struct{ Problems []string }

func (e *UploadError) Error() string { return "rule refused: " + strings.Join(e.Problems, "; ") }
