package config

import (
	"fmt"
	"strings"
)

// keyLines maps each table and key of a TOML document to the line it is
// defined on, keys written with array indexes ("subnets[1].prefix"), so
// that errors found after decoding can name their line. It reads only what
// BurntSushi/toml has already accepted, so it may be simple: it follows
// table headers, dotted and quoted keys and multi-line strings and arrays.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	counts := map[string]int{}
	table := ""
	inString := ""
	depth := 0
	for n, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if inString != "" {
			if strings.Contains(line, inString) {
				inString = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDepth(line)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			array := strings.HasPrefix(line, "[[")
			name := strings.Trim(strings.SplitN(line, "]", 2)[0], "[ \t")
			if array {
				name = strings.Trim(strings.SplitN(line, "]]", 2)[0], "[ \t")
			}
			table = resolveTable(splitKey(name), array, counts)
			if _, ok := lines[table]; !ok {
				lines[table] = n + 1
			}
			continue
		}
		eq := indexOutsideQuotes(line, '=')
		if eq < 0 {
			continue
		}
		key := strings.Join(splitKey(line[:eq]), ".")
		if table != "" {
			key = table + "." + key
		}
		if _, ok := lines[key]; !ok {
			lines[key] = n + 1
		}
		value := strings.TrimSpace(line[eq+1:])
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(value, q) && strings.Count(value, q) == 1 {
				inString = q
			}
		}
		if strings.HasPrefix(value, "[") {
			depth = bracketDepth(value)
		}
	}
	return lines
}

// resolveTable turns a header's key parts into the indexed path, counting
// the elements of arrays of tables.
func resolveTable(parts []string, array bool, counts map[string]int) string {
	full := ""
	for i, p := range parts {
		if full != "" {
			full += "."
		}
		full += p
		if i == len(parts)-1 && array {
			c := counts[full]
			counts[full] = c + 1
			full = fmt.Sprintf("%s[%d]", full, c)
		} else if c, ok := counts[full]; ok {
			full = fmt.Sprintf("%s[%d]", full, c-1)
		}
	}
	return full
}

// splitKey splits a dotted TOML key, removing quotes and blanks.
func splitKey(s string) []string {
	var parts []string
	for {
		dot := indexOutsideQuotes(s, '.')
		part := s
		if dot >= 0 {
			part = s[:dot]
		}
		part = strings.TrimSpace(part)
		if len(part) >= 2 && (part[0] == '"' || part[0] == '\'') {
			part = part[1 : len(part)-1]
		}
		parts = append(parts, part)
		if dot < 0 {
			return parts
		}
		s = s[dot+1:]
	}
}

func indexOutsideQuotes(s string, c byte) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch {
		case quote != 0:
			if s[i] == quote {
				quote = 0
			}
		case s[i] == '"' || s[i] == '\'':
			quote = s[i]
		case s[i] == c:
			return i
		}
	}
	return -1
}

// bracketDepth counts '[' minus ']' outside strings and comments.
func bracketDepth(s string) int {
	d := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		switch {
		case quote != 0:
			if s[i] == quote {
				quote = 0
			}
		case s[i] == '"' || s[i] == '\'':
			quote = s[i]
		case s[i] == '#':
			return d
		case s[i] == '[':
			d++
		case s[i] == ']':
			d--
		}
	}
	return d
}
