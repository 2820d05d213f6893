package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vmroute/vmroute/shared/keypath"
)

// checkKeys scans a JSON document and refuses what encoding/json lets
// through: a key twice in one object (the last would win) and a key that
// is not lowercase (encoding/json matches "UUID" to "uuid"). It names the
// place by its JSON path. It is a scanner of its own, several times
// faster than encoding/json's tokens; what is not well-formed JSON it
// leaves to encoding/json to refuse.
func checkKeys(b []byte) error {
	type frame struct {
		array bool
		index int
		key   string
		keys  []string
	}
	var stack []frame
	path := func(last string) string {
		var p strings.Builder
		for _, f := range stack[:len(stack)-1] {
			if f.array {
				fmt.Fprintf(&p, "[%d]", f.index)
			} else {
				if p.Len() > 0 {
					p.WriteByte('.')
				}
				p.WriteString(f.key)
			}
		}
		if p.Len() > 0 {
			p.WriteByte('.')
		}
		p.WriteString(last)
		return p.String()
	}
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{':
			stack = append(stack, frame{})
			expectKey = true
		case '[':
			stack = append(stack, frame{array: true})
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			if len(stack) == 0 {
				return nil
			}
			if top := &stack[len(stack)-1]; top.array {
				top.index++
			} else {
				expectKey = true
			}
		case '"':
			j := i + 1
			escaped := false
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					escaped = true
					j++
				}
			}
			if j >= len(b) {
				return nil
			}
			if expectKey {
				key := string(b[i+1 : j])
				if escaped {
					k, err := strconv.Unquote(string(b[i : j+1]))
					if err != nil {
						return nil
					}
					key = k
				}
				top := &stack[len(stack)-1]
				if slices.Contains(top.keys, key) {
					return invalid("%s: the key %q is given twice", path(key), key)
				}
				if strings.IndexFunc(key, unicode.IsUpper) >= 0 {
					return invalid("%s: keys are lowercase, as %q", path(key), strings.ToLower(key))
				}
				top.keys, top.key = append(top.keys, key), key
				expectKey = false
			}
			i = j
		}
	}
	return nil
}

// walk reads one JSON value from dec and calls key for every object key
// and leaf for every scalar, each with its JSON path; either may be nil.
// An error of a callback stops the walk and is returned. It runs only on
// documents checkKeys has passed.
func walk(dec *json.Decoder, path string, key func(path, key string) error, leaf func(path string, tok json.Token) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		if leaf == nil {
			return nil
		}
		return leaf(path, tok)
	}
	switch d {
	case '{':
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			at := k.(string)
			if path != "" {
				at = path + "." + at
			}
			if key != nil {
				if err := key(at, k.(string)); err != nil {
					return err
				}
			}
			if err := walk(dec, at, key, leaf); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walk(dec, fmt.Sprintf("%s[%d]", path, i), key, leaf); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token()
	return err
}

// locate finds the first value that failed to decode, by its path: a MAC,
// an address or a time that does not parse, or a value of the wrong JSON
// type for field (as encoding/json names it, without indexes).
func locate(b []byte, field, kind string) (path string, msg string) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	errFound := errors.New("found")
	_ = walk(dec, "", nil, func(p string, tok json.Token) error {
		if kind != "" {
			if keypath.Strip(p) == field && jsonKind(tok) == kind {
				path = p
				return errFound
			}
			return nil
		}
		s, ok := tok.(string)
		if !ok {
			return nil
		}
		var err error
		switch {
		case strings.HasSuffix(p, ".mac"):
			_, err = ParseMAC(s)
		case strings.HasSuffix(keypath.Strip(p), ".addresses"):
			_, err = netip.ParseAddr(s)
		case strings.HasSuffix(p, ".landed_at"):
			_, err = time.Parse(time.RFC3339Nano, s)
		}
		if err != nil {
			path, msg = p, err.Error()
			return errFound
		}
		return nil
	})
	return path, msg
}

// jsonKind names a scalar's JSON type as encoding/json's type errors do.
func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return ""
}

// unknownFields returns the fields of b that Report does not know, each
// by its path without indexes (vms.nics.vlan), once, in the order found;
// the keys inside an unknown field are its own.
func unknownFields(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []string
	_ = walk(dec, "", func(p, k string) error {
		at := keypath.Strip(p)
		parent, _ := strings.CutSuffix(at, "."+k)
		if parent == at {
			parent = ""
		}
		if !knownFields[at] && (parent == "" || knownFields[parent]) && !slices.Contains(out, at) {
			out = append(out, at)
		}
		return nil
	}, nil)
	return out
}

// knownFields are the paths, without indexes, of every field of Report.
var knownFields = fieldPaths(reflect.TypeFor[Report](), "", map[string]bool{})

// fieldPaths adds the JSON paths of t's fields under prefix to paths: the
// fields of this package's structs, into slices of them.
func fieldPaths(t reflect.Type, prefix string, paths map[string]bool) map[string]bool {
	for t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeFor[Report]().PkgPath() {
		return paths
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		paths[name] = true
		fieldPaths(f.Type, name, paths)
	}
	return paths
}
