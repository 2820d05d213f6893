// Package support writes the support bundle of a vmroute machine: one
// gzipped tarball with the versions, the configuration with its secrets
// removed, the agents' status, the last hour of their journal, the
// network's state and the clock's offset, for a bug report or a support
// case. No secret reaches it: the configuration's secret values are
// redacted, the files of passwords and keys are never read into it, and
// their contents are scrubbed from every command's output too.
package support

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Redacted replaces every secret in the bundle.
const Redacted = "<redacted>"

// Item is one file of the bundle: the output of its commands, a file
// (a TOML configuration is redacted), or its content.
type Item struct {
	Name     string
	Commands [][]string
	File     string
	Content  []byte
}

// Runner runs one command and returns its output, stdout and stderr.
type Runner func(ctx context.Context, argv []string) ([]byte, error)

// Exec runs commands on this machine, each for at most 30 s.
func Exec(ctx context.Context, argv []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
}

// Machine are the items every vmroute machine gives: versions, the
// agents' configuration, status (through vmroutectl, at ctl) and
// journal, the network and the clock.
func Machine(ctl string) []Item {
	return []Item{
		{Name: "version.txt", Commands: [][]string{
			{ctl, "--version"}, {"vmroute-routeragent", "--version"}, {"vmroute-hostagent", "--version"},
			{"dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n", "vmroute*"}, {"uname", "-a"}, {"cat", "/etc/os-release"},
		}},
		{Name: "config/routeragent.toml", File: "/etc/vmroute/routeragent.toml"},
		{Name: "config/hostagent.toml", File: "/etc/vmroute/hostagent.toml"},
		{Name: "status.txt", Commands: [][]string{
			{ctl, "-url", "http://127.0.0.1:9181", "status"}, {ctl, "-url", "http://127.0.0.1:9181", "peers"},
			{ctl, "-url", "http://127.0.0.1:9181", "routes"}, {ctl, "-url", "http://127.0.0.1:9181", "moves"},
			{ctl, "-url", "http://127.0.0.1:9180", "status"},
			{"systemctl", "status", "--no-pager", "vmroute-routeragent", "vmroute-hostagent"},
		}},
		{Name: "journal.txt", Commands: [][]string{{"journalctl", "--no-pager", "--since", "-1h",
			"-u", "vmroute-routeragent", "-u", "vmroute-hostagent", "-u", "vmroute-appliance-configure", "-u", "vmroute-appliance-time"}}},
		{Name: "network.txt", Commands: [][]string{
			{"ip", "-d", "address"}, {"ip", "route", "show", "table", "all"}, {"ip", "-6", "route", "show", "table", "all"},
			{"ip", "neigh"}, {"ss", "-tuanp"},
		}},
		{Name: "clock.txt", Commands: [][]string{{"date", "-u"}, {"timedatectl"}, {"timedatectl", "timesync-status"}, {"chronyc", "tracking"}}},
	}
}

// secretKey is a TOML key whose value is a secret itself (not a file's
// name): vmroute's configurations name files for their secrets, but a
// hand-edited one may hold one anyway.
var secretKey = regexp.MustCompile(`(?i)(password|passphrase|secret|token|psk)$`)

// RedactTOML replaces the value of every secret key of a TOML document.
func RedactTOML(b []byte) []byte {
	lines := strings.SplitAfter(string(b), "\n")
	for i, l := range lines {
		k, _, ok := strings.Cut(l, "=")
		if ok && secretKey.MatchString(strings.Trim(strings.TrimSpace(k), `"'`)) {
			lines[i] = k + "= \"" + Redacted + "\"\n"
		}
	}
	return []byte(strings.Join(lines, ""))
}

// SecretFiles returns the contents of the secret files a TOML
// configuration names (keys ending in password_file or key_file,
// relative ones under dir), as strings to scrub: each whole, and for PEM
// each line of its body.
func SecretFiles(conf []byte, dir string) []string {
	var m map[string]any
	if _, err := toml.Decode(string(conf), &m); err != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (strings.HasSuffix(k, "password_file") || strings.HasSuffix(k, "key_file")) && s != "" {
					if !filepath.IsAbs(s) {
						s = filepath.Join(dir, s)
					}
					if b, err := os.ReadFile(s); err == nil {
						out = append(out, Scrubs(b)...)
					}
					continue
				}
				walk(x)
			}
		case []map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(m)
	return out
}

// Scrubs are the strings of a secret's content to scrub: the whole,
// trimmed, and for PEM each line of its base64 body.
func Scrubs(secret []byte) []string {
	s := strings.TrimSpace(string(secret))
	if s == "" {
		return nil
	}
	out := []string{s}
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 8 && !strings.HasPrefix(l, "-----") {
				out = append(out, l)
			}
		}
	}
	return out
}

// MachineScrubs are the secrets of this machine's vmroute configuration
// in etc (/etc/vmroute): the files its configurations name, the BGP and
// vCenter passwords, the TLS keys.
func MachineScrubs(etc string) []string {
	var out []string
	for _, c := range []string{"routeragent.toml", "hostagent.toml"} {
		if b, err := os.ReadFile(filepath.Join(etc, c)); err == nil {
			out = append(out, SecretFiles(b, etc)...)
		}
	}
	keys, _ := filepath.Glob(filepath.Join(etc, "tls", "*.key"))
	for _, f := range append(keys, filepath.Join(etc, "bgp-password"), filepath.Join(etc, "vcenter-password")) {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, Scrubs(b)...)
		}
	}
	return out
}

// WriteFile writes the bundle to path, readable by its owner alone, or
// to stdout when path is "-".
func WriteFile(ctx context.Context, path string, items []Item, scrubs []string, run Runner) error {
	if path == "-" {
		return Write(ctx, os.Stdout, items, scrubs, run)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("support bundle: %w", err)
	}
	if err := Write(ctx, f, items, scrubs, run); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("support bundle %s: %w", path, err)
	}
	return f.Close()
}

// DefaultName is the bundle's file name: vmroute-support-HOST-TIME.tar.gz.
func DefaultName(now time.Time) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("vmroute-support-%s-%s.tar.gz", host, now.UTC().Format("20060102-150405"))
}

// Write writes the bundle of items as a gzipped tar to w, with every
// scrub string replaced by Redacted. A missing file or a failed command
// is noted in its item, and the bundle goes on.
func Write(ctx context.Context, w io.Writer, items []Item, scrubs []string, run Runner) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	now := time.Now()
	// Longer secrets first: a secret that holds another is gone whole.
	scrubs = slices.Clone(scrubs)
	slices.SortFunc(scrubs, func(a, b string) int { return len(b) - len(a) })
	for _, it := range items {
		var b bytes.Buffer
		if it.File != "" {
			c, err := os.ReadFile(it.File)
			if err != nil {
				fmt.Fprintf(&b, "# %s: %v\n", it.File, err)
			} else {
				if strings.HasSuffix(it.File, ".toml") {
					c = RedactTOML(c)
				}
				b.Write(c)
			}
		} else if it.Commands != nil {
			for _, argv := range it.Commands {
				fmt.Fprintf(&b, "$ %s\n", strings.Join(argv, " "))
				out, err := run(ctx, argv)
				b.Write(out)
				if err != nil {
					fmt.Fprintf(&b, "# %v\n", err)
				}
				b.WriteString("\n")
			}
		} else {
			b.Write(it.Content)
		}
		content := b.String()
		for _, s := range scrubs {
			if s != "" {
				content = strings.ReplaceAll(content, s, Redacted)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: "vmroute-support/" + it.Name, Mode: 0o600, Size: int64(len(content)), ModTime: now, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, content); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
