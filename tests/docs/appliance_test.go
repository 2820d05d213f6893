package docs

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/ovf"

	"github.com/vmroute/vmroute/hostagent/appliance"
)

// TestApplianceProperties checks docs/appliance.md's property table
// against the appliance's OVF descriptor: the same keys, in the same
// order, with the same defaults.
func TestApplianceProperties(t *testing.T) {
	doc, err := os.ReadFile("../../docs/appliance.md")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := appliance.Descriptor("0.0.0", appliance.Disk{File: "d.vmdk", Size: 1, Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	env, err := ovf.Unmarshal(bytes.NewReader(desc))
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ key, def string }
	var want []row
	for _, p := range env.VirtualSystem.Product[0].Property {
		def := "–"
		if p.Default != nil && *p.Default != "" {
			def = "`" + *p.Default + "`"
		}
		want = append(want, row{p.Key, def})
	}
	var got []row
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| [^|]+ \\| ([^|]+) \\|").FindAllSubmatch(doc, -1) {
		got = append(got, row{string(m[1]), string(bytes.TrimSpace(m[2]))})
	}
	if !slices.Equal(got, want) {
		t.Errorf("docs/appliance.md lists the properties\n%v\nthe OVF descriptor has\n%v", got, want)
	}
}

// TestApplianceVCenterRole checks that the role the appliance's wizard
// and docs/appliance.md ask for is the one docs/install.md sets up: the
// Read-only role on the datacenter, propagated to children.
func TestApplianceVCenterRole(t *testing.T) {
	install, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/appliance.md")
	if err != nil {
		t.Fatal(err)
	}
	var user string
	for _, p := range appliance.Properties {
		if p.Key == "vcenter.user" {
			user = p.Description
		}
	}
	row := regexp.MustCompile("(?m)^\\| `vcenter.user` .*$").Find(doc)
	for _, c := range []struct{ where, text string }{
		{"docs/install.md", string(install)},
		{"the vcenter.user property's description", user},
		{"docs/appliance.md's vcenter.user row", string(row)},
	} {
		for _, re := range []string{`\bRead-only\b`, `\bdatacenter\b`, `(?i)\bpropagate`} {
			if !regexp.MustCompile(re).MatchString(c.text) {
				t.Errorf("%s does not match %s: the vCenter role must read the same everywhere", c.where, re)
			}
		}
	}
}

// TestApplianceNetworkNeeds checks docs/appliance.md's table of the
// network the appliance needs: each connection it makes out, and SSH as
// the only way in, there only when turned on.
func TestApplianceNetworkNeeds(t *testing.T) {
	doc, err := os.ReadFile("../../docs/appliance.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := bytes.Cut(doc, []byte("## Network needs\n"))
	if !ok {
		t.Fatal("docs/appliance.md has no section 'Network needs'")
	}
	rows := regexp.MustCompile(`(?m)^\| ([^|]+) \| ([^|]+) \|`).FindAllSubmatch(table, -1)
	got := map[string]string{}
	var in []string
	for _, r := range rows {
		to, port := string(bytes.TrimSpace(r[1])), string(bytes.TrimSpace(r[2]))
		got[to] = port
		if bytes.HasPrefix(r[1], []byte("in:")) {
			in = append(in, to)
		}
	}
	for to, port := range map[string]string{
		"vCenter":           "443/tcp",
		"every routeragent": "8443/tcp",
		"DNS servers":       "53/udp",
		"NTP servers":       "123/udp",
	} {
		found := false
		for k, v := range got {
			found = found || strings.HasPrefix(k, to) && strings.HasPrefix(v, port)
		}
		if !found {
			t.Errorf("the network needs table lacks %s on %s: it has %q", to, port, got)
		}
	}
	if len(in) != 1 || !strings.Contains(in[0], "access.ssh = true") {
		t.Errorf("the only way in must be SSH, when access.ssh is on; the table says %q", in)
	}
}
