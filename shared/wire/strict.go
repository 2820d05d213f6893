package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
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
			if expectKey && len(stack) > 0 {
				key := string(b[i+1 : j])
				if escaped {
					k, err := strconv.Unquote(string(b[i : j+1]))
					if err != nil {
						return nil
					}
					key = k
				}
				top := &stack[len(stack)-1]
				switch {
				case slices.Contains(top.keys, key):
					return invalid("%s: the key %q is given twice", path(key), key)
				case strings.IndexFunc(key, unicode.IsUpper) >= 0:
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

// walk reads one JSON value from dec, checking the keys of its objects,
// and calls leaf for every scalar with its path.
func walk(dec *json.Decoder, path string, leaf func(string, json.Token) error) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(dec, path, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return leaf(path, tok)
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return syntaxError(dec, path, err)
			}
			key := k.(string)
			at := key
			if path != "" {
				at = path + "." + key
			}
			switch {
			case seen[key]:
				return invalid("%s: the key %q is given twice", at, key)
			case strings.IndexFunc(key, unicode.IsUpper) >= 0:
				return invalid("%s: keys are lowercase, as %q", at, strings.ToLower(key))
			}
			seen[key] = true
			if err := walk(dec, at, leaf); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walk(dec, fmt.Sprintf("%s[%d]", path, i), leaf); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntaxError(dec, path, err)
	}
	return nil
}

func syntaxError(dec *json.Decoder, path string, err error) error {
	where := "at the top"
	if path != "" {
		where = "in " + path
	}
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body ends inside the JSON document, %s", where)
	case errors.As(err, &syn):
		return invalid("malformed JSON at byte %d, %s: %v", syn.Offset, where, err)
	}
	return invalid("malformed JSON near byte %d, %s: %v", dec.InputOffset(), where, err)
}

// locate finds the first value that failed to decode, by its path: a MAC,
// an address or a time that does not parse, or a value of the wrong JSON
// type for field (as encoding/json names it, without indexes).
func locate(b []byte, field, kind string) (path string, msg string) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	errFound := errors.New("found")
	_ = walk(dec, "", func(p string, tok json.Token) error {
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

// findKey returns the path of the first key named key.
func findKey(b []byte, key string) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	found := ""
	errFound := errors.New("found")
	_ = walkKeys(dec, "", func(p, k string) error {
		if k == key {
			found = p
			return errFound
		}
		return nil
	})
	return found
}

// walkKeys is walk for keys: it calls f for every key with its path.
func walkKeys(dec *json.Decoder, path string, f func(path, key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
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
			if err := f(at, k.(string)); err != nil {
				return err
			}
			if err := walkKeys(dec, at, f); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, fmt.Sprintf("%s[%d]", path, i), f); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token()
	return err
}
