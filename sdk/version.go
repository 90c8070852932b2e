package sdk

import (
	"regexp"
	"strconv"
	"strings"
)

// semver 5.7 "loose" grammar, which the Node hub applies to Looker's User-Agent.
var looseSemver = regexp.MustCompile(`^[v=\s]*([0-9]+)\.([0-9]+)\.([0-9]+)` +
	`(?:-?((?:[0-9]+|[0-9]*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:[0-9]+|[0-9]*[a-zA-Z-][a-zA-Z0-9-]*))*))?` +
	`(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

const lookerAgent = "LookerOutgoingWebhook/"

// LookerVersion extracts Looker's version from a User-Agent the way the Node hub does
// (text after the first "LookerOutgoingWebhook/", semver 5 loose). "" means no version.
func LookerVersion(userAgent string) string {
	i := strings.Index(userAgent, lookerAgent)
	if i < 0 {
		return ""
	}
	return ParseVersion(userAgent[i+len(lookerAgent):])
}

// ParseVersion normalises a version as semver 5.7's valid(v, loose) does, or returns "".
func ParseVersion(v string) string {
	if len(v) > 256 {
		return ""
	}
	m := looseSemver.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	var b strings.Builder
	for i := 1; i <= 3; i++ {
		n, err := strconv.ParseUint(m[i], 10, 53)
		if err != nil {
			return ""
		}
		if i > 1 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(n, 10))
	}
	if m[4] != "" {
		b.WriteByte('-')
		for i, id := range strings.Split(m[4], ".") {
			if i > 0 {
				b.WriteByte('.')
			}
			if n, err := strconv.ParseUint(id, 10, 53); err == nil {
				id = strconv.FormatUint(n, 10)
			}
			b.WriteString(id)
		}
	}
	return b.String()
}

// VersionAtLeast reports semver.gte(v, min) for normalised versions; an unparsable v is false.
func VersionAtLeast(v, min string) bool {
	a, b := ParseVersion(v), ParseVersion(min)
	if a == "" || b == "" {
		return false
	}
	return compareVersions(a, b) >= 0
}

func compareVersions(a, b string) int {
	amain, apre, _ := strings.Cut(a, "-")
	bmain, bpre, _ := strings.Cut(b, "-")
	as, bs := strings.Split(amain, "."), strings.Split(bmain, ".")
	for i := 0; i < 3; i++ {
		x, _ := strconv.ParseUint(as[i], 10, 64)
		y, _ := strconv.ParseUint(bs[i], 10, 64)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case apre == "" && bpre == "":
		return 0
	case apre == "":
		return 1
	case bpre == "":
		return -1
	}
	ai, bi := strings.Split(apre, "."), strings.Split(bpre, ".")
	for i := 0; i < len(ai) && i < len(bi); i++ {
		x, xerr := strconv.ParseUint(ai[i], 10, 64)
		y, yerr := strconv.ParseUint(bi[i], 10, 64)
		switch {
		case xerr == nil && yerr == nil:
			if x != y {
				if x < y {
					return -1
				}
				return 1
			}
		case xerr == nil:
			return -1
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(ai[i], bi[i]); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(ai) < len(bi):
		return -1
	case len(ai) > len(bi):
		return 1
	}
	return 0
}
