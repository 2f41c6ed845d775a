package wire

import "time"

// Link is one member of a view's HAL _links.
type Link struct {
	Href   string `json:"href"`
	Method string `json:"method"`
}

// Tail is how the view of a log stream or a source ends: its read-only
// mark, its times in Okta's format and its _links.
type Tail struct {
	// ReadOnly marks definitions declared in the configuration file; the
	// API refuses to change them.
	ReadOnly bool `json:"readOnly,omitempty"`
	// Created and LastUpdated are set by the server.
	Created     Time `json:"created"`
	LastUpdated Time `json:"lastUpdated"`
	// Links is the HAL _links object: self, the lifecycle step the
	// resource can take, and what its type adds (a source's status and
	// receiver endpoints).
	Links map[string]Link `json:"_links"`
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
	return Tail{ReadOnly: readOnly, Created: Time{created}, LastUpdated: Time{lastUpdated}, Links: links}
}
