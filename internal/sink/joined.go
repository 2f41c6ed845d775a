package sink

import (
	"io"

	"github.com/auditstream/auditstream/internal/event"
)

// Joined is a request body made of records' data as they are, sent from
// the journal's messages instead of copied into one buffer first: Open,
// then each record's data followed by End, with Sep between two records,
// then Close. A JSON array is Open "[", Sep ",", Close "]"; NDJSON is End
// "\n". Build it with Join.
type Joined struct {
	// Items are the records' data, in order. The bytes must not change
	// while a request may read them (journal messages do not); the slice
	// is the Joined's own, since net/http may still read a body after the
	// answer came (a destination that answered early) while the runner
	// reuses its batch.
	Items                 [][]byte
	Open, Sep, End, Close string
}

// Join is the body of recs' data between open and closing, with sep
// between two records and end after each.
func Join(recs []event.Record, open, sep, end, closing string) *Joined {
	items := make([][]byte, len(recs))
	for i := range recs {
		items[i] = recs[i].Data
	}
	return &Joined{Items: items, Open: open, Sep: sep, End: end, Close: closing}
}

// Len is the body's length in bytes.
func (j *Joined) Len() int64 {
	n := len(j.Open) + len(j.Close) + len(j.Items)*len(j.End)
	if len(j.Items) > 1 {
		n += (len(j.Items) - 1) * len(j.Sep)
	}
	for _, it := range j.Items {
		n += len(it)
	}
	return int64(n)
}

// WriteTo writes the body to w.
func (j *Joined) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for part := range j.parts() {
		n, err := w.Write(part)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Reader reads the body from its start.
func (j *Joined) Reader() io.Reader {
	r := newJoinedReader(j)
	r.next()
	return r
}

// parts yields the body's pieces in order (empty ones left out).
func (j *Joined) parts() func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		r := newJoinedReader(j)
		for r.next(); r.cur != nil; r.next() {
			if !yield(r.cur) {
				return
			}
		}
	}
}

// joinedReader reads a Joined piece by piece: cur is what is left of the
// current piece (nil at the end); step counts the pieces handed out, three
// per record after Open: Sep, data, End.
type joinedReader struct {
	j                       *Joined
	open, sep, end, closing []byte
	cur                     []byte
	step                    int
}

// newJoinedReader converts j's separators once (not once a record).
func newJoinedReader(j *Joined) *joinedReader {
	return &joinedReader{j: j, open: []byte(j.Open), sep: []byte(j.Sep), end: []byte(j.End), closing: []byte(j.Close)}
}

// next moves cur to the next non-empty piece, or nil after Close.
func (r *joinedReader) next() {
	for {
		s := r.step
		r.step++
		n := len(r.j.Items)
		switch {
		case s == 0:
			r.cur = r.open
		case s <= 3*n:
			i, k := (s-1)/3, (s-1)%3
			switch k {
			case 0:
				if i == 0 {
					r.cur = nil
				} else {
					r.cur = r.sep
				}
			case 1:
				r.cur = r.j.Items[i]
			default:
				r.cur = r.end
			}
		case s == 3*n+1:
			r.cur = r.closing
		default:
			r.cur = nil
			return
		}
		if len(r.cur) > 0 {
			return
		}
	}
}

// Read implements io.Reader.
func (r *joinedReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.cur != nil {
		c := copy(p[n:], r.cur)
		n += c
		r.cur = r.cur[c:]
		if len(r.cur) == 0 {
			r.next()
		}
	}
	if n == 0 && r.cur == nil {
		return 0, io.EOF
	}
	return n, nil
}
