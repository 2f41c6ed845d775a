package console

import "net/http"

// opsRoutes are the pages that run log streams and sources day to day:
// editing a stream, the System Log's live tail, a source's detail and its
// backfill.
func (c *Console) opsRoutes(m *http.ServeMux) {
	m.Handle("GET /console/streams/{id}/edit", c.authed(c.streamEditPage))
	m.Handle("POST /console/streams/{id}/edit", c.authed(c.streamEditSave))
}
