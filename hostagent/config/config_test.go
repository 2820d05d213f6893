package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if c.Clusters[0].Name != "/DC1/host/Cluster-A" || c.Clusters[0].Site != "A" || len(c.Routeragents) != 2 {
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
		{"cluster without site", `site = "A"`, `sight = "A"`,
			`:11: unknown key clusters[0].sight`},
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
