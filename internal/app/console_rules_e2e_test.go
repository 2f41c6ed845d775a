package app

import (
	"github.com/chromedp/chromedp"
)

// attr is the attribute name of the first element matching sel ("" when
// it has none).
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v (page %s)", name, sel, err, b.location())
	}
	return v.Value
}
