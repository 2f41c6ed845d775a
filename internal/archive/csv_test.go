package archive

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

func TestParseColumns(t *testing.T) {
	tests := []struct {
		name    string
		specs   []string
		want    []string // headers
		wantErr []string
	}{
		{name: "none is the export schema", want: ExportColumns},
		{name: "mixed", specs: []string{"EVENT_ID", "actor.alternateId", "target.0.id", "event", "$x", "a-b@c"},
			want: []string{"EVENT_ID", "actor.alternateId", "target.0.id", "event", "$x", "a-b@c"}},
		{name: "twice", specs: []string{"EVENT_ID", "EVENT_ID"}, wantErr: []string{`columns: "EVENT_ID" twice`}},
		{name: "unknown upper case", specs: []string{"EVENT_IDS"}, wantErr: []string{`"EVENT_IDS" is neither an export column`}},
		{name: "empty segment", specs: []string{"actor..id"}, wantErr: []string{`"actor..id" is neither`}},
		{name: "space", specs: []string{"actor id"}, wantErr: []string{`"actor id" is neither`}},
		{name: "leading dot", specs: []string{".id"}, wantErr: []string{`".id" is neither`}},
		{name: "every problem at once", specs: []string{"x y", "BAD", "event", "event"}, wantErr: []string{
			`"x y"`, `"BAD"`, `"event" twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cols, err := ParseColumns(tt.specs)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %v, want an error", cols)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cols {
				got = append(got, c.Header)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// exportRow encodes one event with the export schema and returns its
// row by column.
func exportRow(t *testing.T, org string, published time.Time, data string) map[string]string {
	t.Helper()
	codec, err := NewCodec(CSV, None, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.Encode([]event.Record{{UUID: "r", Seq: 1, Org: org, Published: published, Data: []byte(data)}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !reflect.DeepEqual(rows[0], ExportColumns) {
		t.Fatalf("got %d rows with header %v, want a header of ExportColumns and one row", len(rows), rows[0])
	}
	out := map[string]string{}
	for i, h := range rows[0] {
		out[h] = rows[1][i]
	}
	return out
}

// TestExportSchema checks each column of EXPORT-SCHEMA.md on the events
// that fill it; columns a case does not name must be empty.
func TestExportSchema(t *testing.T) {
	// 23:30 on 31 December at UTC-2 is 01:30 UTC on 1 January.
	pub := time.Date(2025, 12, 31, 23, 30, 15, 123e6, time.FixedZone("-02", -2*3600))
	dates := map[string]string{"EVENT_YEAR": "2026", "EVENT_MONTH": "2026-01-01", "EVENT_DATE": "2026-01-01",
		"EVENT_TIME": "2026-01-01 01:30:15.123"}
	tests := []struct {
		name  string
		event string
		want  map[string]string
	}{
		{
			name: "app's own audit event with every app-specific id",
			event: `{"uuid":"app-1","eventType":"app_deployed","actor":{"id":"usr_1","alternateId":"dev@example.com"},
				"rootScopeUserId":"root_1","appId":"app_9","branchId":"br_1","deployId":"dep_1","savepointId":"sp_1",
				"savepointRevision":7,"datastoreId":"ds_1","apiKeyId":"key_1","notifierId":"nt_1","samlId":"saml_1",
				"webhookId":"wh_1","adapterId":"ad_1","embedId":"em_1","roleId":"role_1","domain":"builder.example.com",
				"service":"builder","version":"12","target":[{"id":"res_1","type":"Deployment"}]}`,
			want: map[string]string{"EVENT_ID": "app-1", "EVENT_TYPE": "app_deployed", "USER_ID": "usr_1", "EMAIL": "dev@example.com",
				"ROOT_SCOPE_USER_ID": "root_1", "APP_ID": "app_9", "BRANCH_ID": "br_1", "DEPLOY_ID": "dep_1",
				"SAVEPOINT_ID": "sp_1", "SAVEPOINT_REVISION": "7", "DATASTORE_ID": "ds_1", "API_KEY_ID": "key_1",
				"NOTIFIER_ID": "nt_1", "SAML_ID": "saml_1", "WEBHOOK_ID": "wh_1", "ADAPTER_ID": "ad_1", "EMBED_ID": "em_1",
				"ROLE_ID": "role_1", "DOMAIN": "builder.example.com", "SERVICE": "builder", "SERVICE_REVISION": "12",
				"RESOURCE_TYPE": "Deployment", "RESOURCE_ID": "res_1"},
		},
		{
			name: "okta login: legacy type means okta, credential type, app target, debug url",
			event: `{"uuid":"okta-1","eventType":"user.authentication.sso","legacyEventType":"app.auth.sso","version":"0",
				"actor":{"id":"00u1","alternateId":"jane@example.com"},
				"authenticationContext":{"credentialType":"PASSWORD"},"client":{"userAgent":{"browser":"FIREFOX"}},
				"debugContext":{"debugData":{"url":"https://acme.okta.com:443/app/x/sso/saml?x=1"}},
				"target":[{"id":"grp_1","type":"UserGroup"},{"id":"0oa1","type":"AppInstance"},{"id":"0oa2","type":"AppInstance"}]}`,
			want: map[string]string{"EVENT_ID": "okta-1", "EVENT_TYPE": "user.authentication.sso", "USER_ID": "00u1",
				"EMAIL": "jane@example.com", "APP_ID": "0oa1", "DOMAIN": "acme.okta.com", "SERVICE": "okta",
				"SERVICE_REVISION": "0", "LOGIN_TYPE": "PASSWORD", "RESOURCE_TYPE": "UserGroup", "RESOURCE_ID": "grp_1"},
		},
		{
			name: "session event without a credential type: the browser",
			event: `{"uuid":"s-1","eventType":"user.session.start","actor":{"id":"00u2","alternateId":"svc-account"},
				"client":{"userAgent":{"browser":"CHROME"}}}`,
			want: map[string]string{"EVENT_ID": "s-1", "EVENT_TYPE": "user.session.start", "USER_ID": "00u2", "LOGIN_TYPE": "CHROME"},
		},
		{
			name: "not a login: no login type even with a credential type",
			event: `{"uuid":"p-1","eventType":"user.account.update_password","actor":{"id":"00u3"},
				"authenticationContext":{"credentialType":"PASSWORD"}}`,
			want: map[string]string{"EVENT_ID": "p-1", "EVENT_TYPE": "user.account.update_password", "USER_ID": "00u3"},
		},
		{
			name:  "impersonation: the actor acts for another scope",
			event: `{"uuid":"i-1","eventType":"user.session.impersonation.initiate","actor":{"id":"00uadmin","alternateId":"admin@okta.com"}}`,
			want: map[string]string{"EVENT_ID": "i-1", "EVENT_TYPE": "user.session.impersonation.initiate", "USER_ID": "00uadmin",
				"EMAIL": "admin@okta.com", "ROOT_SCOPE_USER_ID": "00uadmin", "LOGIN_TYPE": ""},
		},
		{
			name:  "bare event",
			event: `{"uuid":"b-1","eventType":"x","target":[],"debugContext":{"debugData":{"url":"%zz"}}}`,
			want:  map[string]string{"EVENT_ID": "b-1", "EVENT_TYPE": "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exportRow(t, "acme", pub, strings.Join(strings.Fields(tt.event), " "))
			want := map[string]string{"ORGANIZATION_ID": "acme"}
			for k, v := range dates {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for _, col := range ExportColumns {
				if got[col] != want[col] {
					t.Errorf("%s: got %q, want %q", col, got[col], want[col])
				}
			}
		})
	}
}

func TestPathColumns(t *testing.T) {
	codec, err := NewCodec(CSV, None, []string{"actor.alternateId", "target.1.id", "target.5.id", "target.x", "n", "ok",
		"actor", "missing.deep", "nothing"})
	if err != nil {
		t.Fatal(err)
	}
	data := `{"actor":{"alternateId":"a@example.com","id":"00u1"},"target":[{"id":"t0"},{"id":"t1"}],"n":1.50,"ok":false,"nothing":null}`
	body, err := codec.Encode([]event.Record{{UUID: "r", Data: []byte(data)}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a@example.com", "t1", "", "", "1.50", "false", `{"alternateId":"a@example.com","id":"00u1"}`, "", ""}
	if !reflect.DeepEqual(rows[1], want) {
		t.Errorf("got %q, want %q", rows[1], want)
	}
}

// TestCSVRebuild: a CSV without the event column imports as an event
// rebuilt from its columns, enough to parse, query and route.
func TestCSVRebuild(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		org  string
		want string // the rebuilt event, as JSON
	}{
		{
			name: "export columns",
			csv: "ORGANIZATION_ID,EVENT_ID,EVENT_TIME,EVENT_TYPE,USER_ID,EMAIL,SERVICE_REVISION,RESOURCE_TYPE,RESOURCE_ID,DATASTORE_ID,ROOT_SCOPE_USER_ID,SERVICE,DOMAIN,APP_ID,EVENT_YEAR,LOGIN_TYPE\n" +
				"acme,u-1,2026-01-01 01:30:15.123,app_deployed,usr_1,dev@example.com,12,Deployment,res_1,ds_1,root_1,builder,b.example.com,app_9,2026,PASSWORD\n",
			org: "acme",
			want: `{"uuid":"u-1","published":"2026-01-01T01:30:15.123Z","eventType":"app_deployed",
				"actor":{"id":"usr_1","alternateId":"dev@example.com"},"version":"12",
				"target":[{"type":"Deployment","id":"res_1"}],"datastoreId":"ds_1","rootScopeUserId":"root_1",
				"service":"builder","domain":"b.example.com","appId":"app_9"}`,
		},
		{
			name: "paths and empty cells",
			csv:  "EVENT_ID,actor.displayName,client.geo.city,EVENT_TYPE,EMAIL\nu-2,Jane,Paris,user.session.start,\n",
			want: `{"uuid":"u-2","actor":{"displayName":"Jane"},"client":{"geo":{"city":"Paris"}},"eventType":"user.session.start"}`,
		},
		{
			name: "bad time is left out",
			csv:  "EVENT_ID,EVENT_TIME,EVENT_TYPE\nu-3,yesterday,\n",
			want: `{"uuid":"u-3"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode("p/x.csv", []byte(tt.csv))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d events, want 1", len(got))
			}
			if got[0].Org != tt.org {
				t.Errorf("got org %q, want %q", got[0].Org, tt.org)
			}
			var g, w any
			if err := json.Unmarshal(got[0].Data, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got %s, want %s", got[0].Data, strings.Join(strings.Fields(tt.want), ""))
			}
		})
	}
}

func TestCSVEdgeCases(t *testing.T) {
	if got, err := Decode("x.csv", nil); err != nil || got != nil {
		t.Errorf("empty object: got %v, %v; want nothing", got, err)
	}
	if got, err := Decode("x.csv", []byte("EVENT_ID,event\n")); err != nil || len(got) != 0 {
		t.Errorf("header only: got %v, %v; want no events", got, err)
	}
	if _, err := Decode("x.csv", []byte("\"a\n")); err == nil || !strings.Contains(err.Error(), "csv header") {
		t.Errorf("broken header: got %v, want a csv header error", err)
	}
	// A row shorter than the header keeps the cells it has.
	d, err := rebuild([]string{"EVENT_ID", "EVENT_TYPE", "USER_ID"}, []string{"s-1", "x"})
	if err != nil || string(d.Data) != `{"eventType":"x","uuid":"s-1"}` {
		t.Errorf("short row: got %s, %v; want uuid and eventType", d.Data, err)
	}
	// A cell with quotes, commas and newlines survives the round trip.
	codec, _ := NewCodec(CSV, None, []string{"EVENT_ID", "displayMessage", "event"})
	data := `{"uuid":"q-1","displayMessage":"a, \"b\"\nc"}`
	body, err := codec.Encode([]event.Record{{UUID: "q-1", Data: []byte(data)}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode("x.csv", body)
	if err != nil || len(got) != 1 || string(got[0].Data) != data {
		t.Errorf("got %v, %v; want the event back byte for byte", got, err)
	}
}

func TestLowerCamel(t *testing.T) {
	for in, want := range map[string]string{"API_KEY_ID": "apiKeyId", "ROLE_ID": "roleId", "DOMAIN": "domain",
		"ROOT_SCOPE_USER_ID": "rootScopeUserId", "A__B": "aB"} {
		if got := lowerCamel(in); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}
