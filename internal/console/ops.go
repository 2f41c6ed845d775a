package console

import "net/http"

// opsRoutes are the pages that run log streams and sources day to day:
// editing a stream, the System Log's live tail, a source's detail and its
// backfill.
func (c *Console) opsRoutes(m *http.ServeMux) {
	m.Handle("GET /console/logs/tail", c.authed(c.logsTail))
	m.Handle("GET /console/sources/{id}", c.authed(c.sourceDetail))
	m.Handle("GET /console/sources/{id}/progress", c.authed(c.sourceProgress))
	m.Handle("POST /console/sources/{id}/backfill", c.authed(c.sourceBackfill))
	c.sourceAddRoutes(m)
	// GET /console/streams/{id}/edit: a pattern of its own would clash
	// with /console/streams/new/{type}. Its POST is a streamAction.
	m.Handle("GET /console/streams/{id}/{page}", c.authed(func(w http.ResponseWriter, rc *reqCtx) {
		switch rc.r.PathValue("page") {
		case "edit":
			c.streamEditPage(w, rc)
		case "progress":
			c.streamProgress(w, rc)
		default:
			c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Not found", Error: &apiError{Summary: "Not found: " + rc.r.URL.Path}})
		}
	}))
}
