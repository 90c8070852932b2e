package fakeserver

// Light-mode helpers: a fake that keeps nothing (benchmarks) still checks its quick count
// of a request's records against a count of the JSON, made without decoding it.

// CountArray counts the elements of the JSON array body holds (leading white space
// allowed) without decoding them; -1 when the body is not an array.
func CountArray(body []byte) int { return countArrayAt(body, 0) }

// CountMember counts the elements of the array of the top-level member name of the JSON
// object body holds, without decoding them; -1 when the member is missing or not an
// array.
func CountMember(body []byte, name string) int {
	key := []byte(`"` + name + `":`)
	i := indexTop(body, key)
	if i < 0 {
		return -1
	}
	return countArrayAt(body, i+len(key))
}

// countArrayAt counts the elements of the array that starts at body[i:], after white
// space; -1 when there is none.
func countArrayAt(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\n' || body[i] == '\t' || body[i] == '\r') {
		i++
	}
	if i >= len(body) || body[i] != '[' {
		return -1
	}
	depth, count, inStr, seen := 0, 0, false, false
	for ; i < len(body); i++ {
		c := body[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
			if depth == 1 {
				seen = true
			}
		case '[', '{':
			if depth == 1 {
				seen = true
			}
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				if seen {
					count++
				}
				return count
			}
		case ',':
			if depth == 1 {
				count++
			}
		case ' ', '\n', '\t', '\r':
		default:
			if depth == 1 {
				seen = true
			}
		}
	}
	return -1
}

// indexTop finds key at the top level of a JSON object (depth 1, outside strings).
func indexTop(body, key []byte) int {
	depth, inStr := 0, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			if depth == 1 && len(body)-i >= len(key) && string(body[i:i+len(key)]) == string(key) {
				return i
			}
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return -1
}
