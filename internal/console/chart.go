package console

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/auditstream/auditstream/internal/wire"
)

// chartMinutes is the span of a stream's delivery chart.
const chartMinutes = 60

// perMinuteAt lays a stream's per-minute history on the chartMinutes
// minutes that end with now's minute, oldest first: the history may
// come from a status saved a while ago (another node's), so its minutes
// are placed by their time, and minutes it does not cover count 0.
func perMinuteAt(p *wire.PerMinute, now time.Time) (delivered, failed []uint64, first time.Time) {
	end := now.UTC().Truncate(time.Minute)
	first = end.Add(-(chartMinutes - 1) * time.Minute)
	delivered, failed = make([]uint64, chartMinutes), make([]uint64, chartMinutes)
	if p == nil {
		return delivered, failed, first
	}
	n := len(p.Delivered)
	for k := range n {
		at := p.Last.Add(-time.Duration(n-1-k) * time.Minute)
		i := int(at.Sub(first) / time.Minute)
		if i < 0 || i >= chartMinutes {
			continue
		}
		delivered[i] = p.Delivered[k]
		if k < len(p.Failed) {
			failed[i] = p.Failed[k]
		}
	}
	return delivered, failed, first
}

// hourTotals are the events delivered and the failed writes of the
// minutes perMinuteAt laid out.
func hourTotals(delivered, failed []uint64) (totalD, totalF uint64) {
	for i := range delivered {
		totalD += delivered[i]
		totalF += failed[i]
	}
	return totalD, totalF
}

// deliveryChart draws deliveries and failures per minute over the last
// hour as SVG: a green bar of events delivered and a red bar of failed
// writes per minute, each with its counts on hover.
func deliveryChart(p *wire.PerMinute, now time.Time) template.HTML {
	del, fail, first := perMinuteAt(p, now)
	totalD, totalF := hourTotals(del, fail)
	maxN := uint64(1) // the highest bar: bars stand side by side
	for i := range del {
		maxN = max(maxN, del[i], fail[i])
	}
	const width, height, slot = 960, 100, 16
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg class="deliveries" viewBox="0 0 %d %d" role="img" aria-labelledby="dc-title dc-desc" data-delivered="%d" data-failed="%d">`,
		width, height+16, totalD, totalF)
	fmt.Fprintf(&b, `<title id="dc-title">Deliveries per minute, last hour</title><desc id="dc-desc">%d events delivered and %d failed writes in the last hour</desc>`,
		totalD, totalF)
	for i := range del {
		at := first.Add(time.Duration(i) * time.Minute)
		label := fmt.Sprintf("%s UTC: %d delivered, %d failed", at.Format("15:04"), del[i], fail[i])
		hd := float64(height) * float64(del[i]) / float64(maxN)
		hf := float64(height) * float64(fail[i]) / float64(maxN)
		fmt.Fprintf(&b, `<g><title>%s</title><rect class="ok" x="%d" y="%.1f" width="9" height="%.1f"/><rect class="fail" x="%d" y="%.1f" width="5" height="%.1f"/></g>`,
			template.HTMLEscapeString(label), i*slot+1, float64(height)-hd, hd, i*slot+10, float64(height)-hf, hf)
	}
	fmt.Fprintf(&b, `<line class="base" x1="0" y1="%d" x2="%d" y2="%d"/>`, height, width, height)
	fmt.Fprintf(&b, `<text x="0" y="%d" class="axis">%s UTC</text><text x="%d" y="%d" class="axis" text-anchor="end">%s UTC · peak %d a minute</text></svg>`,
		height+14, first.Format("15:04"), width, height+14, first.Add((chartMinutes-1)*time.Minute).Format("15:04"), maxN)
	return template.HTML(b.String())
}

// sparkline is a small deliveries-over-the-last-hour chart for lists.
func sparkline(p *wire.PerMinute, now time.Time) template.HTML {
	del, fail, _ := perMinuteAt(p, now)
	totalD, totalF := hourTotals(del, fail)
	maxN := uint64(1) // the highest stack: failures stand on deliveries
	for i := range del {
		maxN = max(maxN, del[i]+fail[i])
	}
	const height = 24
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg class="spark" width="120" height="24" viewBox="0 0 %d %d" role="img" aria-label="last hour: %d delivered, %d failed"><title>last hour: %d delivered, %d failed</title>`,
		chartMinutes*2, height, totalD, totalF, totalD, totalF)
	for i := range del {
		hd := float64(height) * float64(del[i]) / float64(maxN)
		hf := float64(height) * float64(fail[i]) / float64(maxN)
		if hd > 0 {
			fmt.Fprintf(&b, `<rect class="ok" x="%d" y="%.1f" width="2" height="%.1f"/>`, i*2, float64(height)-hd, hd)
		}
		if hf > 0 {
			fmt.Fprintf(&b, `<rect class="fail" x="%d" y="%.1f" width="2" height="%.1f"/>`, i*2, float64(height)-hd-hf, hf)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
