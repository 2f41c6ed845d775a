package teams

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
)

const (
	// DefaultTimeout bounds one request; a Workflows flow answers once it
	// has accepted the request.
	DefaultTimeout = 15 * time.Second
	maxTimeout     = time.Minute
	// maxValue bounds a fact's value; Teams refuses messages over 28 KB.
	maxValue = 500
)

// Config is the settings of a stream of type "teams"
// (notify.WebhookSettings): webhookUrl, the Workflows or connector webhook
// URL, which is its credential (write-only); digest, e.g. "5m", one card
// per period (at most 25 events a card) instead of one per event; timeout
// (DefaultTimeout when not set); insecureHttp.
type Config notify.WebhookSettings

// Validate reports every problem with c at once. No message names the URL.
func (c Config) Validate() error { return kind().Validate(c) }

// Type is the "teams" row of the stream type table.
func Type() sink.Type { return kind().Type() }

// New checks cfg and returns a sink for it. It sends nothing.
func New(cfg Config, deps sink.Deps) (*notify.Sink, error) { return kind().New(cfg, deps) }

// kind is teams as a webhook destination: its cards, and its answer
// table (classify).
func kind() notify.WebhookKind[Config] {
	return notify.WebhookKind[Config]{Name: "teams", DefaultTimeout: DefaultTimeout, MaxTimeout: maxTimeout,
		Render: notify.JSON(One, Digest), Answer: classify}
}

// connectorFailure is how a legacy connector reports a failure inside a
// 200 answer.
var connectorFailure = regexp.MustCompile(`(?i)^webhook message delivery failed.*?HTTP error (\d{3})`)

// classify is the default table, except that a 2xx whose body reports a
// connector failure is classified by the code in the text.
func classify(r sink.Response, now time.Time) error {
	if r.StatusCode >= 200 && r.StatusCode < 300 {
		m := connectorFailure.FindStringSubmatch(r.Snippet)
		if m == nil {
			return nil
		}
		code, _ := strconv.Atoi(m[1])
		class, delay := sink.StatusClass(code, r.Header, now)
		err := &sink.StatusError{Method: r.Method, URL: r.URL, StatusCode: code, Body: r.Snippet}
		return sink.Mark(fmt.Errorf("teams answered %d: %w", r.StatusCode, err), class, delay)
	}
	return sink.Classify(r, now)
}

// Message is a Teams message with Adaptive Card attachments.
type Message struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment holds one card.
type Attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card.
type Card struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	MSTeams map[string]any `json:"msteams,omitempty"`
	Body    []Element      `json:"body"`
}

// Element is an Adaptive Card element: a TextBlock or a FactSet.
type Element struct {
	Type      string `json:"type"`
	Text      string `json:"text,omitempty"`
	Weight    string `json:"weight,omitempty"`
	Size      string `json:"size,omitempty"`
	Color     string `json:"color,omitempty"`
	IsSubtle  bool   `json:"isSubtle,omitempty"`
	Wrap      bool   `json:"wrap,omitempty"`
	Separator bool   `json:"separator,omitempty"`
	Facts     []Fact `json:"facts,omitempty"`
}

// Fact is one row of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func message(body []Element) Message {
	return Message{Type: "message", Attachments: []Attachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: Card{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
			MSTeams: map[string]any{"width": "Full"}, Body: body},
	}}}
}

// One is the card about one event.
func One(n notify.Notice) Message {
	body := []Element{{Type: "TextBlock", Text: text(n.Headline()), Weight: "Bolder", Size: "Large", Color: color(n.Level), Wrap: true}}
	var facts []Fact
	for _, f := range n.Facts() {
		facts = append(facts, Fact{Title: f.Name, Value: notify.Cut(text(f.Value), maxValue)})
	}
	if len(facts) > 0 {
		body = append(body, Element{Type: "FactSet", Facts: facts})
	}
	body = append(body, Element{Type: "TextBlock", Text: text(n.Attribution()), Size: "Small", IsSubtle: true, Wrap: true})
	return message(body)
}

// Digest is the card about a period's events: a title, the counts per
// level, and a block per event with its attribution.
func Digest(d notify.Digest) Message {
	body := []Element{
		{Type: "TextBlock", Text: text(d.Headline()), Weight: "Bolder", Size: "Large", Wrap: true},
		{Type: "TextBlock", Text: text(d.Summary()), Wrap: true},
	}
	for _, n := range d.Notices {
		// 25 items of at most 200 + 400 characters and the attribution
		// (never cut: author, licence, id) stay within Teams' 28 KB.
		body = append(body,
			Element{Type: "TextBlock", Text: notify.Cut(text(n.Headline()), 200), Weight: "Bolder", Color: color(n.Level), Wrap: true, Separator: true},
			Element{Type: "TextBlock", Text: notify.Cut(text(strings.Join(n.Detail(), " · ")), 400) + " · " + text(n.Attribution()), Size: "Small", Wrap: true})
	}
	return message(body)
}

// color is a level's Adaptive Card colour.
func color(level string) string {
	switch level {
	case "critical", "high":
		return "Attention"
	case "medium":
		return "Warning"
	default:
		return "Accent"
	}
}

// text keeps a value from an event from making a Markdown link in a
// TextBlock (which reads a subset of Markdown): brackets are escaped.
// Teams may still show a bare URL as a link.
func text(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`).Replace(s)
}
