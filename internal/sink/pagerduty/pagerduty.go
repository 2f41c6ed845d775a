package pagerduty

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
)

const (
	// DefaultURL is the Events API v2 endpoint (the EU one is
	// https://events.eu.pagerduty.com/v2/enqueue).
	DefaultURL = "https://events.pagerduty.com/v2/enqueue"
	// DefaultTimeout bounds one request.
	DefaultTimeout = 15 * time.Second
	maxTimeout     = time.Minute
	// maxSummary is the Events API's limit on payload.summary.
	maxSummary = 1024
	// maxSource bounds payload.source.
	maxSource = 255
)

// Config is the settings of a stream of type "pagerduty".
type Config struct {
	// RoutingKey is the integration key of the service (32 characters).
	RoutingKey secret.String `json:"routingKey"`
	// URL replaces the Events API endpoint (DefaultURL), e.g. with the EU
	// one.
	URL string `json:"url,omitempty"`
	// Source is payload.source; the event's org when not set.
	Source string `json:"source,omitempty"`
	// Digest, e.g. "15m", triggers one event summarising each period's
	// events instead of one per event.
	Digest sink.Duration `json:"digest,omitempty"`
	// Timeout bounds each request, e.g. "15s" (the default).
	Timeout sink.Duration `json:"timeout,omitempty"`
	// InsecureHTTP allows plain http to hosts other than this machine.
	InsecureHTTP bool `json:"insecureHttp,omitempty"`
}

func (c Config) withDefaults() Config {
	c.URL = cmp.Or(c.URL, DefaultURL)
	c.Timeout = cmp.Or(c.Timeout, sink.Duration(DefaultTimeout))
	return c
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs sink.Problems
	if c.RoutingKey == "" {
		errs.Addf("routingKey: required")
	} else if !keyRE.MatchString(c.RoutingKey.Reveal()) {
		errs.Addf("routingKey: want the 32 letters and digits of an integration key")
	}
	if _, err := sink.ParseURL(c.URL, sink.URLRules{Credentials: "routingKey", InsecureHTTP: c.InsecureHTTP}); err != nil {
		errs.Addf("url: %w", err)
	}
	if len(c.Source) > maxSource || strings.ContainsAny(c.Source, "\r\n") {
		errs.Addf("source: want one line of at most %d bytes", maxSource)
	}
	errs.Add(notify.CheckDigest(c.Digest), sink.CheckTimeout(c.Timeout, maxTimeout))
	return errs.Err()
}

// Type is the "pagerduty" row of the stream type table.
func Type() sink.Type { return sink.NewType("pagerduty", prepare, build).WithDestination("url") }

// New checks cfg and returns a sink for it. It sends nothing.
func New(cfg Config, deps sink.Deps) (*notify.Sink, error) {
	return sink.Build(cfg, deps, prepare, build)
}

func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg, err := sink.Checked("pagerduty", cfg, Config.withDefaults)
	if err != nil {
		return cfg, err
	}
	u, _ := url.Parse(cfg.URL)
	return cfg, deps.CheckURL(u, sink.ShowURL(u))
}

func build(cfg Config, deps sink.Deps) (*notify.Sink, error) {
	u, _ := url.Parse(cfg.URL)
	// An event without payload is refused (400) without opening anything.
	probe, _ := json.Marshal(map[string]string{"routing_key": cfg.RoutingKey.Reveal(), "event_action": "trigger"})
	return notify.New(notify.Options{
		Name: "pagerduty", URL: u, Shown: sink.ShowURL(u), Timeout: cfg.Timeout.D(),
		Header: http.Header{"Accept": {"application/json"}},
		Digest: cfg.Digest.D(), Render: notify.JSON(renderer{cfg: cfg}.event, renderer{cfg: cfg}.digest), Probe: probe,
		Answer: func(r sink.Response, now time.Time) error {
			// An answer may quote the event, routing key included: the
			// snippet goes to the stream's status and the logs.
			r.Snippet = strings.ReplaceAll(r.Snippet, cfg.RoutingKey.Reveal(), "<routingKey>")
			return classify(r, now)
		},
	}, deps), nil
}

// Event is an Events API v2 event.
type Event struct {
	RoutingKey  string  `json:"routing_key"`
	EventAction string  `json:"event_action"`
	DedupKey    string  `json:"dedup_key"`
	Client      string  `json:"client,omitempty"`
	Payload     Payload `json:"payload"`
}

// Payload is an event's payload.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// renderer makes the Events API events of a stream with cfg.
type renderer struct{ cfg Config }

// Severity maps a rule level onto PagerDuty's severities.
func Severity(level string) string {
	switch level {
	case "critical":
		return "critical"
	case "high":
		return "error"
	case "medium":
		return "warning"
	default:
		return "info"
	}
}

func (r renderer) event(n notify.Notice) Event {
	details := map[string]any{}
	for _, f := range n.Facts() {
		details[strings.ToLower(f.Name)] = f.Value
	}
	if n.Detection {
		details["detection id"] = n.ID
		details["rule id"] = n.RuleID
		if n.Author != "" {
			details["rule author"] = n.Author
		}
		if n.License != "" {
			details["rule license"] = n.License
		}
		if len(n.Tags) > 0 {
			details["tags"] = strings.Join(n.Tags, " ")
		}
		if len(n.Events) > 0 {
			details["contributing events"] = n.Events
		}
	} else {
		details["event uuid"] = n.UUID
		details["event type"] = n.EventType
	}
	summary := n.Headline()
	if n.GroupBy != "" {
		summary += " (" + n.GroupBy + ")"
	}
	return Event{
		RoutingKey: r.cfg.RoutingKey.Reveal(), EventAction: "trigger", DedupKey: n.ID, Client: "auditstream",
		Payload: Payload{
			Summary: cut(summary, maxSummary), Source: r.source(n.Org), Severity: Severity(n.Level),
			Timestamp: n.Published, Component: "auditstream", Group: n.Org,
			Class: cmp.Or(n.RuleName, n.EventType), CustomDetails: details,
		},
	}
}

func (r renderer) digest(d notify.Digest) Event {
	h := sha256.New()
	lines := make([]string, len(d.Notices))
	worst := "informational"
	for i, n := range d.Notices {
		fmt.Fprintln(h, n.ID)
		lines[i] = n.Line()
		if rank(n.Level) < rank(worst) {
			worst = n.Level
		}
	}
	return Event{
		RoutingKey: r.cfg.RoutingKey.Reveal(), EventAction: "trigger", Client: "auditstream",
		DedupKey: "digest-" + hex.EncodeToString(h.Sum(nil)[:16]),
		Payload: Payload{
			Summary: cut(d.Headline()+": "+d.Summary(), maxSummary), Source: r.source(d.Org), Severity: Severity(worst),
			Timestamp: d.To, Component: "auditstream", Group: d.Org, Class: "digest",
			CustomDetails: map[string]any{"events": lines, "period": d.Period},
		},
	}
}

// rank orders levels from the most severe.
func rank(level string) int {
	for i, l := range []string{"critical", "high", "medium", "low"} {
		if l == level {
			return i
		}
	}
	return 4
}

func (r renderer) source(org string) string {
	return cut(cmp.Or(r.cfg.Source, org, "auditstream"), maxSource)
}

// answer is the Events API's answer body.
type answer struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Errors  []string `json:"errors"`
}

// classify maps the Events API's answers: 2xx delivered, 400 permanent
// unless it names the routing key (a configuration error), the rest by the
// default table (429 throttled, 5xx retried).
func classify(r sink.Response, now time.Time) error {
	err := sink.Classify(r, now)
	if r.StatusCode != http.StatusBadRequest {
		return err
	}
	var a answer
	_ = json.Unmarshal([]byte(r.Snippet), &a)
	text := strings.ToLower(a.Message + " " + strings.Join(a.Errors, " "))
	if strings.Contains(text, "routing_key") || strings.Contains(text, "routing key") {
		return sink.Misconfigured(err)
	}
	return err
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s[:n-len("…")])
	if len(r) > 0 && r[len(r)-1] == '\uFFFD' {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}
