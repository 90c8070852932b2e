package twilio

import (
	"strings"
	"unicode/utf16"
)

// maxE164Digits is the longest E.164 number: 15 digits after the "+".
// https://www.itu.int/rec/T-REC-E.164
const maxE164Digits = 15

// NormalizeE164 returns s as an E.164 number ("+" then 2 to 15 digits, the first not 0),
// after removing the separators people type (spaces, dashes, dots, parentheses). The
// error text says what is wrong and never repeats the number.
func NormalizeE164(s string) (string, string) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", "not a phone number"
		}
	}
	n := b.String()
	switch {
	case n == "" || n == "+":
		return "", "no phone number"
	case n[0] != '+':
		return "", "not in E.164 format: the number needs a leading + and country code"
	case n[1] == '0':
		return "", "not in E.164 format: the country code cannot start with 0"
	case len(n)-1 > maxE164Digits:
		return "", "not in E.164 format: more than 15 digits"
	case len(n)-1 < 2:
		return "", "not in E.164 format: too short"
	}
	return n, ""
}

// Mask hides every digit of a phone number but the last four: "+15551234567" becomes
// "+*******4567". Reports show numbers only this way.
func Mask(s string) string {
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	var b strings.Builder
	seen := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			seen++
			if seen <= digits-4 {
				b.WriteByte('*')
				continue
			}
			b.WriteRune(r)
		} else if r == '+' {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// TruncateString is the Node hub's truncateString(s, limit): a text longer than limit
// characters is cut to limit, then back to just after its last newline when it has one
// past the first character. Characters are counted in UTF-16 code units as JavaScript and
// Twilio do; a surrogate pair is never split.
func TruncateString(s string, limit int) string {
	units := 0
	cut := -1
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > limit {
			cut = i
			break
		}
	}
	if cut < 0 {
		return s
	}
	s = s[:cut]
	if nl := strings.LastIndexByte(s, '\n'); nl > 0 {
		s = s[:nl+1]
	}
	return s
}
