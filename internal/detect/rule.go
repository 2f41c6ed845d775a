package detect

import (
	"regexp"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/pattern"
)

// Rule formats.
const (
	FormatSigma  = "sigma"
	FormatNative = "native"
	// FormatOkta is Okta's detection catalog (okta/customer-detections).
	FormatOkta = "okta"
)

// Rule kinds: a detection (single-event predicate) or a correlation over
// other rules' matches.
const (
	KindDetection   = "detection"
	KindCorrelation = "correlation"
)

// Rule statuses as the API lists them.
const (
	StatusLoaded   = "loaded"
	StatusRefused  = "refused"
	StatusNoSource = "no source"
)

// DefaultSuppress is the suppression window after a detection of an (org,
// rule, group): the Panther and Matano default (DETECTIONS.md §6.3).
const DefaultSuppress = time.Hour

// Info describes a rule for the API and for the detection events it raises.
// DRL 1.1 requires a Sigma rule's author in every alert: Author is always
// carried.
type Info struct {
	ID             string          `json:"id"`
	Title          string          `json:"title"`
	Name           string          `json:"name,omitempty"`
	Kind           string          `json:"kind"`
	Format         string          `json:"format"`
	Pack           string          `json:"pack"`
	File           string          `json:"file,omitempty"`
	Line           int             `json:"line,omitempty"`
	Level          string          `json:"level,omitempty"`
	RuleStatus     string          `json:"ruleStatus,omitempty"`
	Description    string          `json:"description,omitempty"`
	Author         string          `json:"author,omitempty"`
	License        string          `json:"license,omitempty"`
	Tags           []string        `json:"tags,omitempty"`
	References     []string        `json:"references,omitempty"`
	FalsePositives []string        `json:"falsePositives,omitempty"`
	Logsource      sigma.Logsource `json:"logsource"`
	// Status is loaded, refused or "no source"; Reason says why when not loaded.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Org is the org an uploaded rule belongs to; empty for pack rules (every org).
	Org string `json:"org,omitempty"`
	// Slug is the eventType suffix of its detections: security.detection.<slug>.
	Slug string `json:"slug,omitempty"`
}

// rule is a loaded detection rule: a predicate over one event.
type rule struct {
	Info
	// prefilter is the EB pattern of a necessary condition, nil when the rule
	// must run on every event of its logsource (unindexed).
	prefilter []byte
	// match is the full predicate; nil when prefilter is exact (native rules).
	match func(e *field.Event) bool
	// pat is a native rule's compiled pattern.
	pat *pattern.Pattern
	// firstSeen are the kinds whose value must be new for the event's actor
	// (native rules' firstSeen); evaluated after the pattern matched.
	firstSeen []string
	// groupBy groups the suppression of a single-event rule's detections.
	groupBy []string
	// suppress is the suppression window of its own detections.
	suppress time.Duration
	// summary asks for a suppression summary when a suppression period
	// with suppressed firings ends (suppress.summary).
	summary bool
	// raises is true when the rule raises its own detections (Sigma's generate).
	raises bool
	// base is baseID(ID), kept to build it once.
	base string
	// aliases are the pack overlay's field aliases (Sigma name → LogEvent
	// path), applied to the group-by and value fields the engine asks for.
	aliases map[string]string
	// exceptions, when set, are the overlay's exceptions: an event matching
	// one never triggers the rule.
	exceptions *overlay.Effective
	// feeds are the private inputs of Sigma correlations with exceptions:
	// the rule's matches go to each feed's base id unless excepted.
	feeds []feed
}

// feed is a private input of one correlation: its matches of a rule, minus
// the correlation's exceptions (the rule's own base id is shared by every
// correlation that references it).
type feed struct {
	base string
	exc  *overlay.Effective
}

// baseID is the correlation engine's name for the matches of detection rule id:
// distinct from the rule's own id, which names its Single correlation.
func baseID(id string) string { return "base:" + id }

var nonSlug = regexp.MustCompile(`[^a-z0-9_]+`)

// slugOf makes the eventType suffix of a rule's detections: its Sigma name,
// else the file name without .yml, else the title, lower-cased to [a-z0-9_].
func slugOf(name, file, title string) string {
	s := name
	if s == "" && file != "" {
		base := file[strings.LastIndex(file, "/")+1:]
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".yml"), ".yaml")
		s = base
	}
	if s == "" {
		s = title
	}
	s = nonSlug.ReplaceAllString(strings.ToLower(s), "_")
	s = strings.Trim(s, "_")
	if s == "" {
		s = "rule"
	}
	return s
}
