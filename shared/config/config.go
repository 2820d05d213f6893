// Package config loads TOML configuration strictly: unknown keys, bad
// values and missing files are errors that name the file, the line and the
// key, and raw values are turned into typed ones once, here.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/vmroute/vmroute/shared/keypath"
)

// ErrNotFound is wrapped by Load when the file does not exist, so a caller
// can tell "missing" from "broken".
var ErrNotFound = errors.New("config file not found")

// typeError matches BurntSushi/toml's decoding errors, which carry the
// line and key only in their text.
var typeError = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// File is a TOML file being loaded; it remembers the source so that later
// errors can name lines.
type File struct {
	// Path is the file's name as given.
	Path  string
	lines map[string]int
	errs  []error
}

// Load reads path and decodes it into v, a pointer to a struct of plain
// TOML values. It fails on syntax errors, wrong types and unknown keys.
// The returned File collects semantic errors of the caller's checks.
func Load(path string, v any) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, v)
}

// Parse is Load on data already read; path only names it in errors.
func Parse(path string, data []byte, v any) (*File, error) {
	// Syntax first, so that its errors name only the line; then types,
	// whose errors name the key too.
	var syntax map[string]any
	if _, err := toml.Decode(string(data), &syntax); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &File{Path: path, lines: keyLines(data)}
	md, err := toml.Decode(string(data), v)
	if err != nil {
		if m := typeError.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s: %s", path, m[1], m[2], m[3])
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		line, key := f.findUndecoded(k)
		f.errs = append(f.errs, f.lineErr(line, "unknown key "+key, ""))
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// Errorf records a problem with key, a path such as "subnets[2].prefix",
// located at the key's line when the file has it.
func (f *File) Errorf(key, format string, args ...any) {
	f.errs = append(f.errs, f.lineErr(f.line(key), key, fmt.Sprintf(format, args...)))
}

// Err returns every recorded problem, joined, or nil.
func (f *File) Err() error { return errors.Join(f.errs...) }

func (f *File) lineErr(line int, key, msg string) error {
	where := f.Path
	if line > 0 {
		where = fmt.Sprintf("%s:%d", f.Path, line)
	}
	if msg == "" {
		return fmt.Errorf("%s: %s", where, key)
	}
	return fmt.Errorf("%s: %s: %s", where, key, msg)
}

// line finds the line of key, or of the nearest enclosing key or table.
func (f *File) line(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := f.lines[k]; ok {
			return l
		}
	}
	return 0
}

func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i > 0 {
			return k[:i]
		}
	}
	if i := strings.LastIndexByte(k, '.'); i > 0 {
		return k[:i]
	}
	return ""
}

// findUndecoded finds the first line of a key as TOML names it (no array
// indexes) and returns it with the key's indexed name.
func (f *File) findUndecoded(k toml.Key) (int, string) {
	want, line := k.String(), 0
	key := want
	for indexed, l := range f.lines {
		if keypath.Strip(indexed) == want && (line == 0 || l < line) {
			line, key = l, indexed
		}
	}
	return line, key
}

// String returns s, or records an error when it is required and empty.
func (f *File) String(key, s string, required bool) string {
	if required && s == "" {
		f.Errorf(key, "missing")
	}
	return s
}

// Prefix parses a CIDR prefix that must be in canonical (masked) form.
func (f *File) Prefix(key, s string) netip.Prefix {
	if s == "" {
		f.Errorf(key, "missing")
		return netip.Prefix{}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		f.Errorf(key, "%q is not a prefix like 192.0.2.0/24 or 2001:db8::/64", s)
		return netip.Prefix{}
	}
	if p.Masked() != p {
		f.Errorf(key, "%q has host bits set; the prefix is %s", s, p.Masked())
		return netip.Prefix{}
	}
	return p
}

// Addr parses an IPv4 or IPv6 address without a zone.
func (f *File) Addr(key, s string) netip.Addr {
	if s == "" {
		f.Errorf(key, "missing")
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		f.Errorf(key, "%q is not an IP address", s)
		return netip.Addr{}
	}
	return a.Unmap()
}

// Addrs parses a list of addresses; key names the list.
func (f *File) Addrs(key string, ss []string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ss))
	for i, s := range ss {
		if a := f.Addr(fmt.Sprintf("%s[%d]", key, i), s); a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

// Duration parses a Go duration such as "1s" or "250ms"; empty gives def.
func (f *File) Duration(key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		f.Errorf(key, "%q is not a duration like \"1s\" or \"250ms\"", s)
		return def
	}
	return d
}

// Int checks that v lies in [lo, hi]; zero gives def.
func (f *File) Int(key string, v, def, lo, hi int) int {
	if v == 0 {
		return def
	}
	if v < lo || v > hi {
		f.Errorf(key, "%d is out of range %d to %d", v, lo, hi)
		return def
	}
	return v
}

// OneOf checks that s is one of the allowed words; empty gives the first.
func (f *File) OneOf(key, s string, allowed ...string) string {
	if s == "" {
		return allowed[0]
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	f.Errorf(key, "%q is not one of %s", s, strings.Join(allowed, ", "))
	return allowed[0]
}

// ReadSecret reads a one-line secret from a file: a path, or a name in
// systemd's $CREDENTIALS_DIRECTORY when it has no slash.
func ReadSecret(name string) (string, error) {
	path := name
	if !strings.Contains(name, "/") {
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return "", fmt.Errorf("%q names a systemd credential, but $CREDENTIALS_DIRECTORY is not set", name)
		}
		path = dir + "/" + name
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}
