package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/jsonmap"
	"github.com/auditstream/auditstream/internal/secret"
)

// EffectiveConfig is cfg as Run would run it, for serve --print-config:
// checked (including the declared streams' and sources' settings, through
// their types), every default resolved, and every secret replaced by
// secret.Redacted: the config's own (config.Redacted) and the settings
// each stream and source type names as secret.
func EffectiveConfig(cfg config.Config) (config.Config, error) {
	if err := cfg.Validate(); err != nil {
		return config.Config{}, fmt.Errorf("config: %w", err)
	}
	cfg = cfg.WithDefaults()
	dcl, err := declare(cfg, cfg.Listen, slog.New(slog.DiscardHandler))
	if err != nil {
		return config.Config{}, err
	}
	cfg = cfg.Redacted()
	streams := make([]config.Stream, len(cfg.Streams))
	for i, s := range cfg.Streams {
		s.Settings = redactPaths(s.Settings, dcl.types.SecretPaths(s.Type))
		streams[i] = s
	}
	sources := make([]config.Source, len(cfg.Sources))
	for i, s := range cfg.Sources {
		s.Settings = redactPaths(s.Settings, dcl.sourceTypes[s.Type].SecretPaths)
		sources[i] = s
	}
	if cfg.Streams != nil {
		cfg.Streams = streams
	}
	if cfg.Sources != nil {
		cfg.Sources = sources
	}
	return cfg, nil
}

// redactPaths returns a deep copy of settings with the value at each
// dotted path that is set replaced by secret.Redacted.
func redactPaths(settings map[string]any, paths []string) map[string]any {
	if settings == nil {
		return nil
	}
	var m map[string]any
	b, err := json.Marshal(settings)
	if err != nil || json.Unmarshal(b, &m) != nil {
		// Not JSON (configStreams would have refused it): show none of it.
		return map[string]any{}
	}
	for _, p := range paths {
		parts := strings.Split(p, ".")
		if _, ok := jsonmap.Get(m, parts); ok {
			jsonmap.Set(m, parts, secret.Redacted)
		}
	}
	return m
}
