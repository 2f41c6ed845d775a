package event

// JSONArray returns items' encoded events (data gives each one's JSON)
// as one JSON array, with room for one more byte (a newline) before it
// grows.
func JSONArray[T any](items []T, data func(T) []byte) []byte {
	n := 3
	for _, it := range items {
		n += len(data(it)) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, data(it)...)
	}
	return append(buf, ']')
}
