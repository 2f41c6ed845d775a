package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/jsonmap"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// parquetRow is one event in a Parquet object: typed columns for the core
// LogEvent fields, for queries that prune and filter without parsing JSON,
// plus the whole event as JSON in "event". Missing fields are empty
// strings.
type parquetRow struct {
	UUID             string    `parquet:"uuid"`
	Published        time.Time `parquet:"published,timestamp(millisecond)"`
	EventType        string    `parquet:"eventType"`
	Org              string    `parquet:"org"`
	Severity         string    `parquet:"severity"`
	DisplayMessage   string    `parquet:"displayMessage"`
	ActorID          string    `parquet:"actorId"`
	ActorType        string    `parquet:"actorType"`
	ActorAlternateID string    `parquet:"actorAlternateId"`
	ActorDisplayName string    `parquet:"actorDisplayName"`
	ClientIPAddress  string    `parquet:"clientIpAddress"`
	OutcomeResult    string    `parquet:"outcomeResult"`
	OutcomeReason    string    `parquet:"outcomeReason"`
	TransactionID    string    `parquet:"transactionId"`
	LegacyEventType  string    `parquet:"legacyEventType"`
	Version          string    `parquet:"version"`
	Event            string    `parquet:"event,json"`
}

// parquetRowGroup bounds a row group's rows, so that readers can skip
// groups by their statistics and writers hold less in memory.
const parquetRowGroup = 50000

func parquetCodec(c Compression) compress.Codec {
	switch c {
	case Gzip:
		return &parquet.Gzip
	case Zstd:
		return &parquet.Zstd
	default:
		return &parquet.Uncompressed
	}
}

func encodeParquet(recs []event.Record, c Compression) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&buf, parquet.Compression(parquetCodec(c)),
		parquet.MaxRowsPerRowGroup(parquetRowGroup))
	rows := make([]parquetRow, 0, min(len(recs), 1024))
	for i, r := range recs {
		row, err := toRow(r)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
		if len(rows) == cap(rows) || i == len(recs)-1 {
			if _, err := w.Write(rows); err != nil {
				return nil, fmt.Errorf("parquet: %w", err)
			}
			rows = rows[:0]
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return buf.Bytes(), nil
}

func toRow(r event.Record) (parquetRow, error) {
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Data))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return parquetRow{}, fmt.Errorf("event %s: %w", r.UUID, err)
	}
	return parquetRow{
		UUID:             jsonmap.Scalar(ev["uuid"]),
		Published:        r.Published.UTC(),
		EventType:        jsonmap.Scalar(ev["eventType"]),
		Org:              r.Org,
		Severity:         jsonmap.Scalar(ev["severity"]),
		DisplayMessage:   jsonmap.Scalar(ev["displayMessage"]),
		ActorID:          jsonmap.Scalar(jsonmap.Lookup(ev, []string{"actor", "id"})),
		ActorType:        jsonmap.Scalar(jsonmap.Lookup(ev, []string{"actor", "type"})),
		ActorAlternateID: jsonmap.Scalar(jsonmap.Lookup(ev, []string{"actor", "alternateId"})),
		ActorDisplayName: jsonmap.Scalar(jsonmap.Lookup(ev, []string{"actor", "displayName"})),
		ClientIPAddress:  jsonmap.Scalar(jsonmap.Lookup(ev, []string{"client", "ipAddress"})),
		OutcomeResult:    jsonmap.Scalar(jsonmap.Lookup(ev, []string{"outcome", "result"})),
		OutcomeReason:    jsonmap.Scalar(jsonmap.Lookup(ev, []string{"outcome", "reason"})),
		TransactionID:    jsonmap.Scalar(jsonmap.Lookup(ev, []string{"transaction", "id"})),
		LegacyEventType:  jsonmap.Scalar(ev["legacyEventType"]),
		Version:          jsonmap.Scalar(ev["version"]),
		Event:            string(r.Data),
	}, nil
}

func decodeParquet(data []byte) ([]Decoded, error) {
	rows, err := parquet.Read[parquetRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	out := make([]Decoded, len(rows))
	for i, r := range rows {
		out[i] = Decoded{Data: []byte(r.Event), Org: r.Org}
	}
	return out, nil
}
