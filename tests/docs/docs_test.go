// Package docs checks that the configurations the documentation shows
// load as the agents load them, the way --check-config does.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	hostagent "github.com/vmroute/vmroute/hostagent/config"
	routeragent "github.com/vmroute/vmroute/routeragent/config"
)

// minimalRouter holds a routeragent's required keys, for the fragments of
// the documentation that show only [[clusters]].
const minimalRouter = `site = "A"
[api]
cert_file = "r.crt"
key_file = "r.key"
client_ca_file = "ca.crt"
[bgp]
asn = 65001
router_id = "198.51.100.1"
`

// TestInstallConfigs loads every TOML block of docs/install.md: whole
// hostagent configs (with [vcenter]) and routeragent configs (starting
// with site =) as they are, and fragments of [[clusters]] on top of the
// first hostagent config (a hostagent's, with path =) or of a minimal
// routeragent config (a routeragent's, with clients =).
func TestInstallConfigs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 5 {
		t.Fatalf("docs/install.md has %d TOML blocks; the layouts need more", len(blocks))
	}
	var hostBase string
	kinds := map[string]int{}
	for i, b := range blocks {
		body := b[1]
		var kind, conf string
		switch {
		case strings.Contains(body, "[vcenter]"):
			kind, conf = "hostagent", body
			if hostBase == "" {
				hostBase = body
			}
		case strings.HasPrefix(body, "site ="):
			kind, conf = "routeragent", body
		case strings.Contains(body, "clients ="):
			kind, conf = "routeragent", minimalRouter+body
		case strings.Contains(body, "path =") && hostBase != "":
			kind, conf = "hostagent", hostBase+body
		default:
			t.Errorf("TOML block %d is neither agent's config:\n%s", i+1, body)
			continue
		}
		kinds[kind]++
		path := filepath.Join(t.TempDir(), kind+".toml")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		if kind == "hostagent" {
			_, err = hostagent.Load(path)
		} else {
			_, err = routeragent.Load(path)
		}
		if err != nil {
			t.Errorf("TOML block %d of docs/install.md does not load as a %s config: %v\n%s", i+1, kind, err, body)
		}
	}
	if kinds["hostagent"] < 3 || kinds["routeragent"] < 2 {
		t.Errorf("checked %v; want the hostagent's layouts and the routeragent's", kinds)
	}
}
