package appliance_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vmware/govmomi/ovf"

	"github.com/vmroute/vmroute/hostagent/appliance"
	"github.com/vmroute/vmroute/tests/appliancetest"
)

// TestEnv reads what vSphere writes: the OVF environment document, with
// its properties and VMware's adapter section.
func TestEnv(t *testing.T) {
	env := ovf.Env{EsxID: "vm-42", Platform: &ovf.PlatformSection{Kind: "VMware ESXi", Version: "8.0.3", Vendor: "VMware, Inc.", Locale: "en"},
		Property: &ovf.PropertySection{Properties: []ovf.EnvProperty{{Key: "vcenter.url", Value: "https://vc/sdk"}, {Key: "access.ssh", Value: "False"}}}}
	got, err := appliance.Env(strings.NewReader(env.MarshalManual()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Properties["vcenter.url"] != "https://vc/sdk" || got.Properties["access.ssh"] != "False" || len(got.Properties) != 2 || got.MAC != "" {
		t.Errorf("environment %+v", got)
	}
	// A second NIC, added after the deploy, has the higher unit number.
	got, err = appliance.Env(strings.NewReader(appliancetest.WithAdapters(env.MarshalManual(), appliancetest.Adapter{MAC: "00:50:56:8F:00:02", Unit: 8}, appliancetest.Adapter{MAC: "00:50:56:8F:00:01", Unit: 7})))
	if err != nil {
		t.Fatal(err)
	}
	if got.MAC != "00:50:56:8f:00:01" {
		t.Errorf("MAC %q, want the NIC of the lowest unit number, 00:50:56:8f:00:01", got.MAC)
	}
	got, err = appliance.Env(strings.NewReader(appliancetest.WithAdapters(env.MarshalManual(), appliancetest.Adapter{MAC: "00:50:56:8F:00:03", Unit: 0}, appliancetest.Adapter{MAC: "00:50:56:8F:00:04", Unit: 1})))
	if err != nil || got.MAC != "00:50:56:8f:00:03" {
		t.Errorf("MAC %q (%v), want the NIC of unit 0, 00:50:56:8f:00:03", got.MAC, err)
	}
	if _, err := appliance.Env(strings.NewReader(appliancetest.WithAdapters(env.MarshalManual(), appliancetest.Adapter{MAC: "00:50:56:zz:00:01", Unit: 7}))); err == nil || !strings.Contains(err.Error(), `"00:50:56:zz:00:01" is not a MAC address`) {
		t.Errorf("bad MAC: %v", err)
	}
	if _, err := appliance.Env(strings.NewReader("<Environment")); err == nil || !strings.HasPrefix(err.Error(), "OVF environment: ") {
		t.Errorf("broken XML: %v", err)
	}
}

// TestDescriptor parses the OVF descriptor with govmomi's ovf package and
// finds every property, as the list has it, with the types the wizard
// checks, and the hardware.
func TestDescriptor(t *testing.T) {
	b, err := appliance.Descriptor("1.2.3-4", appliance.Disk{File: "disk1.vmdk", Size: 1234, Capacity: 4 << 30, Populated: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	appliancetest.CheckDescriptor(t, b)
	env, err := ovf.Unmarshal(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("govmomi's ovf package refuses the descriptor: %v", err)
	}
	if p := env.VirtualSystem.Product[0]; p.Version != "1.2.3-4" {
		t.Errorf("product version %q", p.Version)
	}
	if len(env.References) != 1 || env.References[0].Href != "disk1.vmdk" || env.References[0].Size != 1234 {
		t.Errorf("references %+v", env.References)
	}
	if d := env.Disk.Disks[0]; d.Capacity != "4294967296" || d.PopulatedSize == nil || *d.PopulatedSize != 1<<30 {
		t.Errorf("disk %+v", d)
	}
}
