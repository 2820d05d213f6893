// Package keypath handles the names the agents give a value inside a
// nested document when they report it, such as clusters[0].sites.B[0] in
// a TOML config or vms[3].nics[0].addresses[1] in a report.
package keypath

import "strings"

// Strip removes the array indexes from a path: clusters[0].site becomes
// clusters.site, the name of the key whatever its position.
func Strip(p string) string {
	var b strings.Builder
	depth := 0
	for _, r := range p {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
