package archive

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/jsonmap"
)

// ExportColumns are the columns of the flat audit-export schema (see the
// project's EXPORT-SCHEMA.md), in order: what CSV objects hold when the
// stream names no columns.
var ExportColumns = []string{
	"ORGANIZATION_ID", "EVENT_ID", "EVENT_YEAR", "EVENT_MONTH", "EVENT_DATE", "EVENT_TIME",
	"ROOT_SCOPE_USER_ID", "USER_ID", "EMAIL", "APP_ID", "BRANCH_ID", "DEPLOY_ID", "SAVEPOINT_ID",
	"SAVEPOINT_REVISION", "RESOURCE_TYPE", "RESOURCE_ID", "DOMAIN", "DATASTORE_ID", "API_KEY_ID",
	"NOTIFIER_ID", "SAML_ID", "WEBHOOK_ID", "ADAPTER_ID", "EMBED_ID", "ROLE_ID", "SERVICE",
	"SERVICE_REVISION", "LOGIN_TYPE", "EVENT_TYPE",
}

// EventColumn is the column holding the whole event as JSON; a CSV archive
// with it imports back losslessly.
const EventColumn = "event"

// exportTimeLayout is EVENT_TIME's TIMESTAMP_NTZ form (UTC, no zone).
const exportTimeLayout = "2006-01-02 15:04:05.000"

// appSpecific are export columns looked up by their lower camelCase name at
// the top level of the event, for apps that send their own audit events.
var appSpecific = map[string]bool{
	"BRANCH_ID": true, "DEPLOY_ID": true, "SAVEPOINT_ID": true, "SAVEPOINT_REVISION": true,
	"DATASTORE_ID": true, "API_KEY_ID": true, "NOTIFIER_ID": true, "SAML_ID": true,
	"WEBHOOK_ID": true, "ADAPTER_ID": true, "EMBED_ID": true, "ROLE_ID": true,
}

// Column is one CSV column: an export-schema column, the whole event, or
// a dotted path into the event ("actor.alternateId", "target.0.id").
type Column struct {
	// Header is the column's name in the header row.
	Header string
	export bool
	path   []string
}

var pathRE = regexp.MustCompile(`^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$`)

// ParseColumns checks column specs: an export-schema name (upper case, as
// in ExportColumns), "event", or a dotted path. None means ExportColumns.
func ParseColumns(specs []string) ([]Column, error) {
	if len(specs) == 0 {
		specs = ExportColumns
	}
	export := map[string]bool{}
	for _, c := range ExportColumns {
		export[c] = true
	}
	var errs []error
	seen := map[string]bool{}
	cols := make([]Column, 0, len(specs))
	for _, s := range specs {
		if seen[s] {
			errs = append(errs, fmt.Errorf("columns: %q twice", s))
		}
		seen[s] = true
		switch {
		case export[s]:
			cols = append(cols, Column{Header: s, export: true})
		case s == EventColumn:
			cols = append(cols, Column{Header: s})
		case pathRE.MatchString(s) && s != strings.ToUpper(s):
			cols = append(cols, Column{Header: s, path: strings.Split(s, ".")})
		default:
			errs = append(errs, fmt.Errorf("columns: %q is neither an export column (%s) nor %q nor a dotted path such as actor.alternateId", s, strings.Join(ExportColumns[:3], ", ")+", …", EventColumn))
		}
	}
	return cols, errors.Join(errs...)
}

func encodeCSV(w io.Writer, recs []event.Record, cols []Column) error {
	cw := csv.NewWriter(w)
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = c.Header
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	for _, r := range recs {
		var ev map[string]any
		dec := json.NewDecoder(bytes.NewReader(r.Data))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			return fmt.Errorf("event %s: %w", r.UUID, err)
		}
		for i, c := range cols {
			switch {
			case c.export:
				row[i] = exportValue(c.Header, r, ev)
			case c.path == nil:
				row[i] = string(r.Data)
			default:
				row[i] = jsonmap.Scalar(jsonmap.Lookup(ev, c.path))
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func exportValue(col string, r event.Record, ev map[string]any) string {
	t := r.Published.UTC()
	switch col {
	case "ORGANIZATION_ID":
		return r.Org
	case "EVENT_ID":
		return jsonmap.Scalar(ev["uuid"])
	case "EVENT_YEAR":
		return strconv.Itoa(t.Year())
	case "EVENT_MONTH":
		return t.Format("2006-01") + "-01"
	case "EVENT_DATE":
		return t.Format(time.DateOnly)
	case "EVENT_TIME":
		return t.Format(exportTimeLayout)
	case "ROOT_SCOPE_USER_ID":
		if v := jsonmap.Scalar(ev["rootScopeUserId"]); v != "" {
			return v
		}
		if strings.Contains(jsonmap.Scalar(ev["eventType"]), "impersonation") {
			return jsonmap.Scalar(jsonmap.Lookup(ev, []string{"actor", "id"}))
		}
		return ""
	case "USER_ID":
		return jsonmap.Scalar(jsonmap.Lookup(ev, []string{"actor", "id"}))
	case "EMAIL":
		if v := jsonmap.Scalar(jsonmap.Lookup(ev, []string{"actor", "alternateId"})); strings.Contains(v, "@") {
			return v
		}
		return ""
	case "APP_ID":
		if v := jsonmap.Scalar(ev["appId"]); v != "" {
			return v
		}
		return firstTarget(ev, "AppInstance", "id")
	case "RESOURCE_TYPE":
		return jsonmap.Scalar(jsonmap.Lookup(ev, []string{"target", "0", "type"}))
	case "RESOURCE_ID":
		return jsonmap.Scalar(jsonmap.Lookup(ev, []string{"target", "0", "id"}))
	case "DOMAIN":
		if v := jsonmap.Scalar(ev["domain"]); v != "" {
			return v
		}
		if u, err := url.Parse(jsonmap.Scalar(jsonmap.Lookup(ev, []string{"debugContext", "debugData", "url"}))); err == nil {
			return u.Hostname()
		}
		return ""
	case "SERVICE":
		if v := jsonmap.Scalar(ev["service"]); v != "" {
			return v
		}
		if _, ok := ev["legacyEventType"]; ok {
			return "okta" // only Okta's System Log has legacy event types
		}
		return ""
	case "SERVICE_REVISION":
		return jsonmap.Scalar(ev["version"])
	case "LOGIN_TYPE":
		et := jsonmap.Scalar(ev["eventType"])
		if !strings.Contains(et, "session") && !strings.Contains(et, "login") && !strings.Contains(et, "auth") {
			return ""
		}
		if v := jsonmap.Scalar(jsonmap.Lookup(ev, []string{"authenticationContext", "credentialType"})); v != "" {
			return v
		}
		return jsonmap.Scalar(jsonmap.Lookup(ev, []string{"client", "userAgent", "browser"}))
	case "EVENT_TYPE":
		return jsonmap.Scalar(ev["eventType"])
	}
	if appSpecific[col] {
		return jsonmap.Scalar(ev[lowerCamel(col)])
	}
	return ""
}

func firstTarget(ev map[string]any, typ, field string) string {
	targets, _ := ev["target"].([]any)
	for _, t := range targets {
		if m, ok := t.(map[string]any); ok && jsonmap.Scalar(m["type"]) == typ {
			return jsonmap.Scalar(m[field])
		}
	}
	return ""
}

// lowerCamel turns API_KEY_ID into apiKeyId.
func lowerCamel(col string) string {
	parts := strings.Split(strings.ToLower(col), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// decodeCSV reads events back: from the event column when there is one,
// else rebuilt from the columns it has (uuid, published, eventType and the
// mapped actor and target fields, app-specific ids and dotted paths), which
// keeps less than the original event.
func decodeCSV(data []byte) ([]Decoded, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	var out []Decoded
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		d, err := rebuild(header, row)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
}

func rebuild(header, row []string) (Decoded, error) {
	var d Decoded
	ev := map[string]any{}
	for i, h := range header {
		if i >= len(row) {
			break
		}
		v := row[i]
		switch {
		case h == EventColumn:
			d.Data = []byte(v)
		case h == "ORGANIZATION_ID":
			d.Org = v
		case v == "":
		case h == "EVENT_TIME":
			if t, err := time.Parse(exportTimeLayout, v); err == nil {
				ev["published"] = t.UTC().Format("2006-01-02T15:04:05.000Z")
			}
		case exportPaths[h] != nil:
			jsonmap.Set(ev, exportPaths[h], v)
		case appSpecific[h] || h == "ROOT_SCOPE_USER_ID" || h == "SERVICE" || h == "DOMAIN" || h == "APP_ID":
			ev[lowerCamel(h)] = v
		case h != strings.ToUpper(h):
			jsonmap.Set(ev, strings.Split(h, "."), v)
		}
	}
	if d.Data != nil {
		return d, nil
	}
	if t, ok := ev["target"].(map[string]any); ok {
		ev["target"] = []any{t}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return d, err
	}
	d.Data = b
	return d, nil
}

// exportPaths are the export columns that hold a LogEvent string, with
// its path in the event.
var exportPaths = map[string][]string{
	"EVENT_ID":         {"uuid"},
	"EVENT_TYPE":       {"eventType"},
	"USER_ID":          {"actor", "id"},
	"EMAIL":            {"actor", "alternateId"},
	"SERVICE_REVISION": {"version"},
	"RESOURCE_TYPE":    {"target", "type"},
	"RESOURCE_ID":      {"target", "id"},
}
