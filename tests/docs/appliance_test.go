package docs

import (
	"bytes"
	"os"
	"regexp"
	"slices"
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
