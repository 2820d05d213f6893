package support

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNoSecret writes a bundle of a router and a hostagent whose
// configurations name a BGP password, a vCenter password and a TLS key,
// and one that holds a password inline; commands whose output carries
// them (as a careless log line would). No secret is in the bundle, in
// any encoding, and the rest is.
func TestNoSecret(t *testing.T) {
	etc := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// The routeragent's configuration names its key and a second BGP
	// password outside the usual places; the hostagent's names its
	// password as a systemd credential, found at the usual place only.
	files := map[string]string{
		"routeragent.toml":  "site = \"A\"\n[api]\nkey_file = \"/ETC/keys/api.pem\"\n[[bgp.neighbors]]\naddress = \"192.0.2.1\"\npassword_file = \"bgp-password-b\"\n",
		"hostagent.toml":    "[vcenter]\nurl = \"https://vc.example.net/sdk\"\npassword_file = \"vcenter-password\"\npassword = \"inline-s3cret\"\n",
		"bgp-password":      "bgp-s3cret\n",
		"bgp-password-b":    "bgp-s3cret-b",
		"vcenter-password":  "vc-s3cret",
		"tls/hostagent.key": "host-key-s3cret",
		"keys/api.pem":      string(keyPEM),
	}
	for _, d := range []string{"tls", "keys"} {
		_ = os.MkdirAll(filepath.Join(etc, d), 0o755)
	}
	for name, c := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(strings.ReplaceAll(c, "/ETC", etc)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	items := []Item{
		{Name: "config/routeragent.toml", File: filepath.Join(etc, "routeragent.toml")},
		{Name: "config/hostagent.toml", File: filepath.Join(etc, "hostagent.toml")},
		{Name: "journal.txt", Commands: [][]string{{"journalctl"}, {"false"}}},
		{Name: "missing.toml", File: filepath.Join(etc, "none.toml")},
	}
	run := func(_ context.Context, argv []string) ([]byte, error) {
		if argv[0] == "false" {
			return nil, errors.New("exit status 1")
		}
		keyLine := strings.Split(string(keyPEM), "\n")[1]
		return []byte("session up\nmd5 password bgp-s3cret\nneighbor b bgp-s3cret-b\nkey " + string(keyPEM) + "a key line " + keyLine +
			"\nlogin with vc-s3cret\nhost key host-key-s3cret\n"), nil
	}
	var b bytes.Buffer
	if err := Write(context.Background(), &b, items, MachineScrubs(etc), run); err != nil {
		t.Fatal(err)
	}
	all := untar(t, b.Bytes())
	body := strings.Join(mapValues(all), "\n")
	for _, secret := range []string{"bgp-s3cret", "bgp-s3cret-b", "-b\n", "vc-s3cret", "inline-s3cret", "host-key-s3cret", string(der[len(der)-16:])} {
		for enc, v := range map[string]string{"plain": secret, "base64": base64.StdEncoding.EncodeToString([]byte(secret)), "hex": hex.EncodeToString([]byte(secret))} {
			if strings.Contains(body, v) {
				t.Errorf("the bundle holds a secret (%s, %s):\n%s", enc, v, body)
			}
		}
	}
	for _, l := range strings.Split(string(keyPEM), "\n") {
		if len(l) > 8 && !strings.HasPrefix(l, "-----") && strings.Contains(body, l) {
			t.Errorf("the bundle holds a line of the TLS key")
		}
	}
	for name, want := range map[string]string{
		"vmroute-support/config/routeragent.toml": `address = "192.0.2.1"`,
		"vmroute-support/config/hostagent.toml":   `password = "<redacted>"`,
		"vmroute-support/journal.txt":             "session up\nmd5 password <redacted>",
		"vmroute-support/missing.toml":            "no such file",
	} {
		if !strings.Contains(all[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, all[name])
		}
	}
	if !strings.Contains(all["vmroute-support/journal.txt"], "$ false\n# exit status 1") {
		t.Errorf("a failed command is not noted:\n%s", all["vmroute-support/journal.txt"])
	}
}

// TestScrubs scrubs a secret whole and, for PEM, each line of its body
// long enough not to be ordinary text, never its BEGIN and END lines.
func TestScrubs(t *testing.T) {
	for _, tt := range []struct {
		secret string
		want   []string
	}{
		{"  s3cret\n", []string{"s3cret"}},
		{" \n", nil},
		{"-----BEGIN KEY-----\nAAAAAAAA\nBBBB\n-----END KEY-----\n", []string{"-----BEGIN KEY-----\nAAAAAAAA\nBBBB\n-----END KEY-----", "AAAAAAAA"}},
		{"-----BEGIN not PEM\nAAAAAAAA\n", []string{"-----BEGIN not PEM\nAAAAAAAA"}},
	} {
		if got := Scrubs([]byte(tt.secret)); !slices.Equal(got, tt.want) {
			t.Errorf("Scrubs(%q) = %q, want %q", tt.secret, got, tt.want)
		}
	}
	if got := SecretFiles([]byte("key_file = "), t.TempDir()); got != nil {
		t.Errorf("a configuration that is not TOML gives scrubs %q", got)
	}
}

// TestWriteFile writes the bundle readable by its owner only, and never
// over a file that is there.
func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	items := []Item{{Name: "a.txt", Content: []byte("hello s3cret")}}
	if err := WriteFile(context.Background(), path, items, []string{"s3cret"}, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle %v, %v: want mode 0600", fi, err)
	}
	b, _ := os.ReadFile(path)
	if got := untar(t, b)["vmroute-support/a.txt"]; got != "hello "+Redacted {
		t.Errorf("a.txt %q", got)
	}
	if err := WriteFile(context.Background(), path, items, nil, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("over an existing bundle: %v, want an error naming it", err)
	}
}

func untar(t *testing.T, b []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(tr)
		out[h.Name] = string(c)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
