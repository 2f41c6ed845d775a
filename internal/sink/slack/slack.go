package slack

import (
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
)

const (
	// DefaultTimeout bounds one request; Slack answers in well under a
	// second.
	DefaultTimeout = 10 * time.Second
	maxTimeout     = time.Minute

	// Slack's block limits: a header's text, a section field, a
	// section's text, a message's fields per section.
	maxHeader   = 150
	maxField    = 2000
	maxSection  = 3000
	maxFields   = 10
	maxFallback = 3000
)

// Config is the settings of a stream of type "slack"
// (notify.WebhookSettings): webhookUrl, the incoming webhook's URL, which
// is its credential (write-only); digest, e.g. "5m", one message per
// period (at most 25 events a message) instead of one per event; timeout
// (DefaultTimeout when not set); insecureHttp.
type Config notify.WebhookSettings

func (c Config) withDefaults() Config { return kind().Defaults(c) }

// Validate reports every problem with c at once. No message names the URL.
func (c Config) Validate() error { return kind().Validate(c) }

// Type is the "slack" row of the stream type table.
func Type() sink.Type { return kind().Type() }

// New checks cfg and returns a sink for it. It sends nothing.
func New(cfg Config, deps sink.Deps) (*notify.Sink, error) { return kind().New(cfg, deps) }

// kind is slack as a webhook destination: its messages, and an empty
// message as the probe.
func kind() notify.WebhookKind[Config] {
	return notify.WebhookKind[Config]{Name: "slack", DefaultTimeout: DefaultTimeout, MaxTimeout: maxTimeout,
		Render: notify.JSON(One, Digest), Probe: []byte(`{}`)}
}

// Message is a Slack message as an incoming webhook takes it.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Block is a Slack layout block (header, section, context, divider).
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Fields   []Text `json:"fields,omitempty"`
	Elements []Text `json:"elements,omitempty"`
}

// Text is a Slack text object.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// One is the message about one event.
func One(n notify.Notice) Message {
	head := icon(n.Level) + " " + n.Headline()
	m := Message{Text: notify.Cut(escape(head), maxFallback)}
	m.Blocks = append(m.Blocks, Block{Type: "header", Text: &Text{Type: "plain_text", Text: notify.Cut(head, maxHeader)}})
	var fields []Text
	for _, f := range n.Facts() {
		if len(fields) == maxFields {
			break
		}
		fields = append(fields, Text{Type: "mrkdwn", Text: notify.Cut("*"+f.Name+"*\n"+escape(f.Value), maxField)})
	}
	if len(fields) > 0 {
		m.Blocks = append(m.Blocks, Block{Type: "section", Fields: fields})
	}
	m.Blocks = append(m.Blocks, Block{Type: "context", Elements: []Text{{Type: "mrkdwn", Text: notify.Cut(escape(n.Attribution()), maxSection)}}})
	return m
}

// Digest is the message about a period's events: a header, the counts per
// level, and a line per event with its attribution.
func Digest(d notify.Digest) Message {
	head := d.Headline()
	m := Message{Text: notify.Cut(escape(head+": "+d.Summary()), maxFallback)}
	m.Blocks = append(m.Blocks,
		Block{Type: "header", Text: &Text{Type: "plain_text", Text: notify.Cut(head, maxHeader)}},
		Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: notify.Cut(escape(d.Summary()), maxSection)}},
		Block{Type: "divider"})
	for _, n := range d.Notices {
		// Lines are bounded (200 + 400 characters and the attribution) so that a digest stays a
		// message people read, whatever the events hold.
		// The attribution (author, licence, id) is never cut.
		line := icon(n.Level) + " *" + notify.Cut(escape(n.Headline()), 200) + "*\n" +
			notify.Cut(escape(strings.Join(n.Detail(), " · ")), 400) + " · " + escape(n.Attribution())
		m.Blocks = append(m.Blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: line}})
	}
	return m
}

// icon is a level's emoji.
func icon(level string) string {
	switch level {
	case "critical", "high":
		return ":red_circle:"
	case "medium":
		return ":large_orange_circle:"
	default:
		return ":large_blue_circle:"
	}
}

// escape makes a value from an event inert in mrkdwn: Slack reads &, < and
// > as control characters (links, mentions such as <!channel>).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
