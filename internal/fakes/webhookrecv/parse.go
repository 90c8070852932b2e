package webhookrecv

import (
	"encoding/json"
	"errors"
)

var errBadBatch = errors.New(`body is not {"rows":[...],"batch_id":"..."}`)

// parseBatch splits a batch body into its id and the raw JSON of each row, without
// decoding the rows (the fake must stay cheap beside the code it measures). Rows are
// views into body, appended to dst.
func parseBatch(body []byte, dst [][]byte) (id string, rows [][]byte, err error) {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return "", nil, errBadBatch
	}
	i++
	sawRows := false
	for {
		i = skipWS(body, i)
		if i < len(body) && body[i] == '}' {
			i++
			break
		}
		kEnd, ok := skipString(body, i)
		if !ok {
			return "", nil, errBadBatch
		}
		key := body[i:kEnd]
		i = skipWS(body, kEnd)
		if i >= len(body) || body[i] != ':' {
			return "", nil, errBadBatch
		}
		i = skipWS(body, i+1)
		vEnd, ok := skipValue(body, i)
		if !ok {
			return "", nil, errBadBatch
		}
		switch string(key) {
		case `"rows"`:
			if body[i] != '[' {
				return "", nil, errBadBatch
			}
			rows, ok = splitArray(body[i:vEnd], dst)
			if !ok {
				return "", nil, errBadBatch
			}
			sawRows = true
		case `"batch_id"`:
			if json.Unmarshal(body[i:vEnd], &id) != nil {
				return "", nil, errBadBatch
			}
		}
		i = skipWS(body, vEnd)
		if i < len(body) && body[i] == ',' {
			i++
			continue
		}
		if i < len(body) && body[i] == '}' {
			i++
			break
		}
		return "", nil, errBadBatch
	}
	if skipWS(body, i) != len(body) || !sawRows || id == "" {
		return "", nil, errBadBatch
	}
	return id, rows, nil
}

// splitArray appends the elements of a JSON array to out.
func splitArray(a []byte, out [][]byte) ([][]byte, bool) {
	i := skipWS(a, 1)
	if i < len(a) && a[i] == ']' {
		return out, skipWS(a, i+1) == len(a)
	}
	for {
		i = skipWS(a, i)
		end, ok := skipValue(a, i)
		if !ok {
			return nil, false
		}
		out = append(out, a[i:end])
		i = skipWS(a, end)
		if i >= len(a) {
			return nil, false
		}
		switch a[i] {
		case ',':
			i++
		case ']':
			return out, skipWS(a, i+1) == len(a)
		default:
			return nil, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at i.
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the JSON value starting at i. It checks nesting and
// strings, not the grammar of numbers and literals.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	default:
		start := i
		for i < len(b) {
			c := b[i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				break
			}
			i++
		}
		return i, i > start
	}
}
