// Package appliancetest checks the appliance's OVF descriptor and makes
// OVF environments, for the appliance's unit tests and for the tests
// that read the built OVA and boot it.
package appliancetest

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmware/govmomi/ovf"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/appliance"
)

// everywhere are guest OS types of the vSphere API 6.5, which every
// version the appliance claims (ESXi 6.5 and later, vCenter 7 and 8)
// knows. debian11_64Guest came with 7.0, debian12_64Guest with 8.0.0.1.
var everywhere = map[string]bool{"debian10_64Guest": true, "debian9_64Guest": true, "other3xLinux64Guest": true}

// CheckDescriptor checks an OVF descriptor of the appliance against what
// vSphere needs of it: a guest OS type every claimed version knows, the
// properties with the checks the deploy wizard makes (MinLen, MaxLen,
// choices), the environment by VMware Tools only (no ISO left on the
// datastore), guestinfo readable by root alone, the disk on PVSCSI with
// its populated size.
func CheckDescriptor(t testing.TB, desc []byte) {
	t.Helper()
	env, err := ovf.Unmarshal(bytes.NewReader(desc))
	if err != nil {
		t.Fatalf("govmomi's ovf package refuses the descriptor: %v", err)
	}
	vs := env.VirtualSystem
	if vs == nil || len(vs.Product) != 1 || len(vs.VirtualHardware) != 1 || vs.OperatingSystem == nil {
		t.Fatalf("descriptor lacks its virtual system, product, hardware or OS section")
	}
	if os := vs.OperatingSystem; os.OSType == nil || !everywhere[*os.OSType] ||
		!slices.Contains(types.VirtualMachineGuestOsIdentifier("").Values(), types.VirtualMachineGuestOsIdentifier(*os.OSType)) {
		t.Errorf("guest OS type %s: not one that vSphere 6.5 to 8 all know (%v)", deref(os.OSType), everywhere)
	}

	got := vs.Product[0].Property
	if len(got) != len(appliance.Properties) {
		t.Fatalf("%d properties in the descriptor, want %d", len(got), len(appliance.Properties))
	}
	spec, err := env.ToConfigSpec()
	if err != nil {
		t.Fatalf("govmomi's ovf package makes no VM of the descriptor: %v", err)
	}
	vappType := map[string]string{}
	if vapp, ok := spec.VAppConfig.(*types.VAppConfigSpec); ok {
		for _, p := range vapp.Property {
			vappType[p.Info.Id] = p.Info.Type
		}
	}
	for i, want := range appliance.Properties {
		p := got[i]
		def := ""
		if p.Default != nil {
			def = *p.Default
		}
		pw := p.Password != nil && *p.Password
		if p.Key != want.Key || p.Type != want.Type || def != want.Default || pw != want.Secret || p.Label == nil || *p.Label != want.Label {
			t.Errorf("property %d: %s %s default %q password %t, want %+v", i, p.Key, p.Type, def, pw, want)
		}
		// The vApp type the wizard checks values against, as vSphere
		// makes it of the qualifiers: string(1..), password(1..),
		// string(0..59), string["none", ...].
		typ := vappType[want.Key]
		base := "string"
		if want.Type == "boolean" {
			base = "boolean"
		} else if want.Secret {
			base = "password"
		}
		wantType := base
		switch {
		case len(want.Choices) > 0:
			wantType = base + `["` + strings.Join(want.Choices, `", "`) + `"]`
		case want.Required && want.MaxLen > 0:
			wantType = fmt.Sprintf("%s(1..%d)", base, want.MaxLen)
		case want.Required:
			wantType = base + "(1..)"
		case want.MaxLen > 0:
			wantType = fmt.Sprintf("%s(0..%d)", base, want.MaxLen)
		}
		if typ != wantType {
			t.Errorf("property %s: the wizard's type %q, want %q", want.Key, typ, wantType)
		}
		if strings.Contains(typ, `""`) {
			t.Errorf("property %s offers an empty choice: %s", want.Key, typ)
		}
	}

	hw := vs.VirtualHardware[0]
	if hw.Transport == nil || *hw.Transport != "com.vmware.guestInfo" {
		t.Errorf("OVF environment transport %q, want com.vmware.guestInfo alone: the ISO transport leaves the passwords on the datastore", deref(hw.Transport))
	}
	scsi := ""
	for _, it := range hw.Item {
		if it.ResourceType == nil {
			continue
		}
		switch *it.ResourceType {
		case 15, 16: // CD and DVD drives
			t.Errorf("the descriptor has a CD/DVD drive (%s): no transport needs it", it.ElementName)
		case 6:
			if it.ResourceSubType != nil && *it.ResourceSubType == "VirtualSCSI" {
				scsi = it.InstanceID
			}
		}
	}
	disk := false
	for _, it := range hw.Item {
		if it.ResourceType != nil && *it.ResourceType == 17 {
			disk = it.Parent != nil && *it.Parent == scsi && scsi != ""
		}
	}
	if !disk {
		t.Errorf("the disk is not on a PVSCSI controller (VirtualSCSI)")
	}
	info := ""
	for _, c := range hw.ExtraConfig {
		if c.Key == "guest_rpc.rpci.auth.cmd.info-get" {
			info = c.Value
		}
	}
	if info != "TRUE" {
		t.Errorf("guest_rpc.rpci.auth.cmd.info-get = %q, want TRUE: any user in the guest reads guestinfo.ovfEnv, passwords and all", info)
	}
	if env.Disk == nil || len(env.Disk.Disks) != 1 {
		t.Fatalf("disk section %+v", env.Disk)
	}
	d := env.Disk.Disks[0]
	capacity, err := strconv.ParseInt(d.Capacity, 10, 64)
	if err != nil || d.PopulatedSize == nil || *d.PopulatedSize <= 0 || int64(*d.PopulatedSize) > capacity {
		populated := "none"
		if d.PopulatedSize != nil {
			populated = strconv.Itoa(*d.PopulatedSize)
		}
		t.Errorf("disk: populated size %s of capacity %s: vSphere checks the datastore's room against it", populated, d.Capacity)
	}
}

// Adapter is a NIC as VMware's adapter section of the OVF environment
// names it.
type Adapter struct {
	MAC  string
	Unit int
}

// WithAdapters adds VMware's adapter section to an OVF environment
// document, as vSphere writes it (the OVA's own NIC is unit 7).
func WithAdapters(env string, adapters ...Adapter) string {
	var b strings.Builder
	b.WriteString(`<ve:EthernetAdapterSection xmlns:ve="http://www.vmware.com/schema/ovfenv">`)
	for _, a := range adapters {
		fmt.Fprintf(&b, `<ve:Adapter ve:mac="%s" ve:network="VM Network" ve:unitNumber="%d"/>`, a.MAC, a.Unit)
	}
	b.WriteString("</ve:EthernetAdapterSection>")
	return strings.Replace(env, "</Environment>", b.String()+"</Environment>", 1)
}

// deref is *s, or "none" when s is nil.
func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}
