package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmroute/vmroute/hostagent/sitemap"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadSecrets(); err != nil {
		t.Fatal(err)
	}
	if c.VCenter.Password != "secret-password" || c.VCenter.URL.String() != "https://vcenter.example.net/sdk" {
		t.Errorf("vcenter %+v", c.VCenter)
	}
	if c.Clusters[0].Name != "/DC1/host/Cluster-A" || c.Clusters[0].Sites.Site != "A" || c.Clusters[0].Sites.By != sitemap.Cluster || len(c.Routeragents) != 2 {
		t.Errorf("clusters %+v routeragents %v", c.Clusters, c.Routeragents)
	}
	if c.StatusListen != "127.0.0.1:9180" {
		t.Errorf("status listen %q", c.StatusListen)
	}
}

func TestLoadBroken(t *testing.T) {
	good, err := os.ReadFile("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new, want string }{
		{"password in the TOML", `password_file = "testdata/vcenter.password"`, `password = "hunter2"`,
			":6: unknown key vcenter.password"},
		{"plain http", `url = "https://vcenter.example.net"`, `url = "http://vcenter.example.net"`,
			`:4: vcenter.url: "http://vcenter.example.net" is not an https:// URL`},
		{"two ways to verify", `ca_file = "/etc/vmroute/tls/vcenter-ca.crt"`, "ca_file = \"/x\"\ninsecure = true",
			`:3: vcenter: set exactly one of ca_file, thumbprint or insecure`},
		{"bad debounce", `debounce = "20ms"`, `debounce = "fast"`,
			`:19: report.debounce: "fast" is not a duration`},
		{"wait timeout in fractions", `ca_file = "/etc/vmroute/tls/vcenter-ca.crt"`, "ca_file = \"/etc/vmroute/tls/vcenter-ca.crt\"\nwait_timeout = \"1500ms\"",
			`:8: vcenter.wait_timeout: 1.5s: want whole seconds from 1s to 10m`},
		{"misspelt site", `site = "A"`, `sight = "A"`,
			`:11: unknown key clusters[0].sight`},
		{"cluster without site", `site = "A"`, ``,
			`:9: clusters[0].site: missing: the site of the whole cluster`},
		{"stretched without sites", `site = "A"`, `sites_by = "host_group"`,
			`:9: clusters[0].sites: missing: the host_group names of each site`},
		{"stretched by an unknown source", `site = "A"`, "sites_by = \"rack\"\nsites = { A = [\"r1\"] }",
			`:11: clusters[0].sites_by: "rack" is not one of cluster, host_group, fault_domain, host_name`},
		{"a host group at two sites", `site = "A"`, "sites_by = \"host_group\"\nsites = { A = [\"g\"], B = [\"g\"] }",
			`:12: clusters[0].sites.B[0]: "g" is named for site A too`},
		{"site and sites", `site = "A"`, "site = \"A\"\nsites_by = \"host_name\"\nsites = { A = [\"esx-a*\"] }",
			`:11: clusters[0].site: set site (the whole cluster at one site) or sites_by and sites, not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(good), tt.old) {
				t.Fatalf("good.toml lacks %q", tt.old)
			}
			path := filepath.Join(t.TempDir(), "hostagent.toml")
			doc := strings.Replace(string(good), tt.old, tt.new, 1)
			doc = strings.ReplaceAll(doc, "testdata/vcenter.password", mustAbs(t, "testdata/vcenter.password"))
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), path+tt.want) {
				t.Errorf("Load() = %v\nwant it to contain %q", err, path+tt.want)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLoadStretched(t *testing.T) {
	doc := `routeragents = ["https://router-a1.example.net:8443"]
[vcenter]
url = "https://vcenter.example.net"
user = "vmroute@vsphere.local"
password_file = "/etc/vmroute/vcenter.password"
insecure = true
[tls]
cert_file = "h.crt"
key_file = "h.key"
ca_file = "ca.crt"

[[clusters]]
path = "/DC1/host/Stretched"
name = "stretched"
sites_by = "host_group"
[clusters.sites]
A = ["hosts-site-a"]
B = ["hosts-site-b"]

[[clusters]]
path = "/DC1/host/Cluster-C"
site = "C"
`
	path := filepath.Join(t.TempDir(), "hostagent.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Clusters[0].Sites
	if s.By != sitemap.HostGroup || s.Sites["A"][0] != "hosts-site-a" || s.Sites["B"][0] != "hosts-site-b" || len(s.Sites) != 2 {
		t.Errorf("stretched cluster's sites %+v", s)
	}
	if w := c.Clusters[1].Sites; w.By != sitemap.Cluster || w.Site != "C" {
		t.Errorf("whole cluster's sites %+v", w)
	}
}
