package sink

import "github.com/auditstream/auditstream/internal/duration"

// Duration is the settings' one duration type (duration.Duration), which
// destination configs read and write as a Go duration string ("10s").
type Duration = duration.Duration
