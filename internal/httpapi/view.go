package httpapi

import "time"

// OktaTime is the format of the times in Okta's API objects: UTC with
// milliseconds.
const OktaTime = "2006-01-02T15:04:05.000Z07:00"

// Link is one member of a view's HAL _links.
type Link struct {
	Href   string `json:"href"`
	Method string `json:"method"`
}

// Tail is how the view of a log stream or a source ends: its read-only
// mark, its times in Okta's format and its _links.
type Tail struct {
	ReadOnly    bool            `json:"readOnly,omitempty"`
	Created     string          `json:"created"`
	LastUpdated string          `json:"lastUpdated"`
	Links       map[string]Link `json:"_links"`
}

// NewTail returns the Tail of the resource at base (its URL): a self link,
// and the lifecycle step it can take (deactivate when active, else
// activate). Callers may add links.
func NewTail(base string, active, readOnly bool, created, lastUpdated time.Time) Tail {
	links := map[string]Link{"self": {Href: base, Method: "GET"}}
	if active {
		links["deactivate"] = Link{Href: base + "/lifecycle/deactivate", Method: "POST"}
	} else {
		links["activate"] = Link{Href: base + "/lifecycle/activate", Method: "POST"}
	}
	return Tail{ReadOnly: readOnly, Created: created.UTC().Format(OktaTime), LastUpdated: lastUpdated.UTC().Format(OktaTime),
		Links: links}
}
