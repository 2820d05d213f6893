// Package docs checks that the configurations the documentation shows
// load as the agents load them, the way --check-config does.
package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	hostagent "github.com/vmroute/vmroute/hostagent/config"
	routeragent "github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/tests/pki"
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

// livenessBase is a minimal routeragent config that the liveness
// fragments of docs/install.md complete: site B named by a cluster, and
// the stretched subnets on an interface.
const livenessBase = minimalRouter + `[[clusters]]
name = "/DC/host/Stretched"
sites = ["A", "B"]
clients = ["hostagent:/DC/host/Stretched"]
[[subnets]]
prefix = "192.0.2.0/24"
home = "A"
interface = "bond0.100"
[[subnets]]
prefix = "2001:db8:100::/64"
home = "A"
interface = "bond0.100"
`

// TestInstallConfigs loads every TOML block of docs/install.md: whole
// hostagent configs (with [vcenter]) and routeragent configs (starting
// with site =) as they are, and fragments of [[clusters]] on top of the
// first hostagent config (a hostagent's, with path =) or of a minimal
// routeragent config (a routeragent's, with clients =), and of
// [[liveness.sites]] on top of livenessBase.
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
		case strings.HasPrefix(body, "[[liveness.sites]]"):
			kind, conf = "routeragent", livenessBase+body
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

// TestInstallPKICommands runs the `vmroutectl pki` commands that
// docs/install.md shows, in a directory of its own, and checks that the
// certificates they make work together for mutual TLS.
func TestInstallPKICommands(t *testing.T) {
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := pkiCommands(t, string(doc))
	dir := t.TempDir()
	bin := filepath.Join(dir, "vmroutectl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/vmroutectl").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, args := range cmds {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("vmroutectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	pkiDir := filepath.Join(dir, "vmroute-pki")
	server, err := tlsutil.Load(tlsutil.Files{Cert: filepath.Join(pkiDir, "router-a.example.net.crt"), Key: filepath.Join(pkiDir, "router-a.example.net.key"),
		CA: filepath.Join(pkiDir, "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	client, err := tlsutil.Load(tlsutil.Files{Cert: filepath.Join(pkiDir, "hostagent__DC_host_Stretched.crt"), Key: filepath.Join(pkiDir, "hostagent__DC_host_Stretched.key"),
		CA: filepath.Join(pkiDir, "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	if got := pki.Handshake(t, server.Server(), client.Client(), "router-a.example.net"); len(got) != 1 || got[0] != "hostagent:/DC/host/Stretched" {
		t.Errorf("the routeragent sees the hostagent as %v", got)
	}
}

// pkiCommands returns the arguments of each `vmroutectl pki` command in
// the documentation's shell blocks.
func pkiCommands(t *testing.T, doc string) [][]string {
	t.Helper()
	var cmds [][]string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		for _, line := range strings.Split(block[1], "\n") {
			line, _, _ = strings.Cut(line, "#")
			if f := strings.Fields(line); len(f) > 1 && f[0] == "vmroutectl" && f[1] == "pki" {
				cmds = append(cmds, f[1:])
			}
		}
	}
	if len(cmds) < 4 {
		t.Fatalf("docs/install.md shows %d vmroutectl pki commands, want init and the issues", len(cmds))
	}
	return cmds
}
