package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKeyLines(t *testing.T) {
	doc := `top = 1
# comment = 2
"quoted key" = 3
dotted.key = 4
multi = [
  "a = b",
  "c",
]
text = """
fake = 5
"""
[table]
x = 6
[[arr]]
y = 7
[[arr]]
y = 8
[arr.sub]
z = 9
[[arr.items]]
w = 10
`
	got := keyLines([]byte(doc))
	want := map[string]int{
		"top": 1, "quoted key": 3, "dotted.key": 4, "multi": 5, "text": 9,
		"table": 12, "table.x": 13, "arr[0]": 14, "arr[0].y": 15, "arr[1]": 16, "arr[1].y": 17,
		"arr[1].sub": 18, "arr[1].sub.z": 19, "arr[1].items[0]": 20, "arr[1].items[0].w": 21,
	}
	for k, l := range want {
		if got[k] != l {
			t.Errorf("line of %q = %d, want %d", k, got[k], l)
		}
	}
	for _, k := range []string{"fake", "comment", "a"} {
		if _, ok := got[k]; ok {
			t.Errorf("%q found, but it is no key", k)
		}
	}
}

func TestParseErrors(t *testing.T) {
	var v struct {
		Name    string `toml:"name"`
		Timeout string `toml:"timeout"`
		Count   int    `toml:"count"`
	}
	tests := []struct{ doc, want string }{
		{"name = \"x\"\nnmae = \"y\"\n", "f.toml:2: unknown key nmae"},
		{"name = \"x\"\ncount = \"three\"\n", "f.toml:2: count: incompatible types"},
		{"name = \"x\"\ncount = \n", "f.toml:2: "},
	}
	for _, tt := range tests {
		_, err := Parse("f.toml", []byte(tt.doc), &v)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", tt.doc, err, tt.want)
		}
	}
	f, err := Parse("f.toml", []byte("name = \"x\"\ntimeout = \"soon\"\n"), &v)
	if err != nil {
		t.Fatal(err)
	}
	if d := f.Duration("timeout", v.Timeout, time.Second); d != time.Second {
		t.Errorf("bad duration gave %v, want the default", d)
	}
	if err := f.Err(); err == nil || err.Error() != `f.toml:2: timeout: "soon" is not a duration like "1s" or "250ms"` {
		t.Errorf("Err() = %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	var v struct{}
	_, err := Load(filepath.Join(t.TempDir(), "x.toml"), &v)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Load() = %v, want ErrNotFound", err)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	if err := writeFile(filepath.Join(dir, "bgp-password"), "s3cret\n"); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadSecret("bgp-password"); err != nil || s != "s3cret" {
		t.Errorf("ReadSecret(credential) = %q, %v", s, err)
	}
	if s, err := ReadSecret(filepath.Join(dir, "bgp-password")); err != nil || s != "s3cret" {
		t.Errorf("ReadSecret(path) = %q, %v", s, err)
	}
	if err := writeFile(filepath.Join(dir, "empty"), "\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecret("empty"); err == nil {
		t.Error("an empty secret was accepted")
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
