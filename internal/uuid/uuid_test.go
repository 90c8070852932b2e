package uuid

import (
	"regexp"
	"testing"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDs(t *testing.T) {
	u := NewSource()
	seen := map[string]bool{}
	// 1000 UUIDs cross several 4096-byte refills (256 UUIDs each).
	for i := 0; i < 1000; i++ {
		s := u.String()
		if !uuidRe.MatchString(s) || seen[s] {
			t.Fatalf("bad or repeated UUID %q", s)
		}
		seen[s] = true
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	got := string(NewSource().Append([]byte(`"id":"`)))
	if len(got) != 6+36 || got[:6] != `"id":"` || !uuidRe.MatchString(got[6:]) {
		t.Fatalf("got %q", got)
	}
}
