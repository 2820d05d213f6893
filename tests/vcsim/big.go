package vcsim

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// Big is the inventory of a large vCenter as its WaitForUpdatesEx answers
// carry it, byte for byte, without a simulator behind it: Hosts hosts,
// spread over Clusters in turn, and VMs VMs, spread over the hosts in
// turn, each with the devices and guest networking of a real VM (17
// devices: controllers, three disks, one on a snapshot chain, two
// adapters, one of them not connected): about 10 KB of XML for the
// device list, 12 KB in all, so 116 MB for a sync of 10,000 VMs.
type Big struct {
	// Clusters are the clusters' managed-object IDs, as the simulator
	// in front of which the answers are served knows them.
	Clusters []types.ManagedObjectReference
	Hosts    int
	VMs      int
}

// HostRef returns the managed-object ID of host i.
func (b Big) HostRef(i int) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "HostSystem", Value: fmt.Sprintf("host-%d", 1000+i)}
}

// VMRef returns the managed-object ID of VM i.
func (b Big) VMRef(i int) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VirtualMachine", Value: fmt.Sprintf("vm-%d", 10000+i)}
}

// ClusterOf returns the index of the cluster VM i starts in.
func (b Big) ClusterOf(i int) int { return i % b.Hosts % len(b.Clusters) }

// Sync returns the answers of a full sync, at most page objects each:
// the port group, the hosts, then the VMs, every page but the last
// truncated. The VMs moved (by Move) run on the host they moved to.
func (b Big) Sync(page int, moved []int) ([][]byte, error) {
	if b.Hosts%len(b.Clusters) != 0 {
		return nil, fmt.Errorf("%d hosts do not spread evenly over %d clusters", b.Hosts, len(b.Clusters))
	}
	objects := make([]types.ObjectUpdate, 0, 1+b.Hosts+b.VMs)
	objects = append(objects, types.ObjectUpdate{Obj: types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: "dvportgroup-2001"},
		Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{
			{Name: "key", Op: types.PropertyChangeOpAssign, Val: "dvportgroup-2001"},
			{Name: "name", Op: types.PropertyChangeOpAssign, Val: "dvpg-app"},
		}})
	for i := range b.Hosts {
		objects = append(objects, types.ObjectUpdate{Obj: b.HostRef(i), Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{
			{Name: "name", Op: types.PropertyChangeOpAssign, Val: fmt.Sprintf("esx%03d.dc.example.com", i)},
			{Name: "parent", Op: types.PropertyChangeOpAssign, Val: b.Clusters[i%len(b.Clusters)]},
		}})
	}
	isMoved := make(map[int]bool, len(moved))
	for _, i := range moved {
		isMoved[i] = true
	}
	for i := range b.VMs {
		objects = append(objects, types.ObjectUpdate{Obj: b.VMRef(i), Kind: types.ObjectUpdateKindEnter, ChangeSet: b.vm(i, isMoved[i])})
	}
	return pages(objects, page)
}

// host returns the host VM i runs on, the next one once moved.
func (b Big) host(i int, moved bool) types.ManagedObjectReference {
	if moved {
		return b.HostRef((i%b.Hosts + 1) % b.Hosts)
	}
	return b.HostRef(i % b.Hosts)
}

// Move returns the answers that move n VMs of the first cluster to the
// next host, in the second cluster: one change of runtime.host each, at
// most page objects per answer. It returns the VMs moved.
func (b Big) Move(n, page int) ([][]byte, []int, error) {
	var objects []types.ObjectUpdate
	var moved []int
	for i := 0; i < b.VMs && len(moved) < n; i++ {
		if b.ClusterOf(i) != 0 {
			continue
		}
		objects = append(objects, types.ObjectUpdate{Obj: b.VMRef(i), Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{
			{Name: "runtime.host", Op: types.PropertyChangeOpAssign, Val: b.host(i, true)},
		}})
		moved = append(moved, i)
	}
	if len(moved) < n {
		return nil, nil, fmt.Errorf("the first cluster has %d VMs, not %d", len(moved), n)
	}
	p, err := pages(objects, page)
	return p, moved, err
}

// vm returns VM i's watched properties as a full sync sends them.
func (b Big) vm(i int, moved bool) []types.PropertyChange {
	name := fmt.Sprintf("app%05d", i)
	macs := [2]string{fmt.Sprintf("00:50:56:%02x:%02x:%02x", byte(i>>16)&0x3f, byte(i>>8), byte(i)),
		fmt.Sprintf("00:50:56:%02x:%02x:%02x", 0x40|byte(i>>16)&0x3f, byte(i>>8), byte(i))}
	addr := func(c int) netip.Addr {
		a := netip.MustParseAddr("2001:db8::").As16()
		a[5], a[13], a[14], a[15] = byte(c), byte(i>>16), byte(i>>8), byte(i)
		return netip.AddrFrom16(a)
	}
	ip := addr(b.ClusterOf(i) + 1).String()
	link := fmt.Sprintf("fe80::250:56ff:fe%02x:%02x%02x", byte(i>>16)&0x3f, byte(i>>8), byte(i))
	guest := []types.GuestNicInfo{{
		Network: "dvpg-app", IpAddress: []string{ip, link}, MacAddress: macs[0], Connected: true, DeviceConfigId: 4000,
		IpConfig: &types.NetIpConfigInfo{IpAddress: []types.NetIpConfigInfoIpAddress{
			{IpAddress: ip, PrefixLength: 64, State: "preferred", Origin: "manual"},
			{IpAddress: link, PrefixLength: 64, State: "preferred", Origin: "linklayer"},
		}},
	}}
	return []types.PropertyChange{
		{Name: "config.hardware.device", Op: types.PropertyChangeOpAssign, Val: types.ArrayOfVirtualDevice{VirtualDevice: devices(name, i, macs)}},
		{Name: "config.instanceUuid", Op: types.PropertyChangeOpAssign, Val: fmt.Sprintf("5012%04x-%04x-4000-8000-%012x", i>>16, i&0xffff, i)},
		{Name: "config.template", Op: types.PropertyChangeOpAssign, Val: false},
		{Name: "config.uuid", Op: types.PropertyChangeOpAssign, Val: fmt.Sprintf("4212%04x-%04x-4000-8000-%012x", i>>16, i&0xffff, i)},
		{Name: "guest.net", Op: types.PropertyChangeOpAssign, Val: types.ArrayOfGuestNicInfo{GuestNicInfo: guest}},
		{Name: "name", Op: types.PropertyChangeOpAssign, Val: name},
		{Name: "runtime.connectionState", Op: types.PropertyChangeOpAssign, Val: types.VirtualMachineConnectionStateConnected},
		{Name: "runtime.host", Op: types.PropertyChangeOpAssign, Val: b.host(i, moved)},
		{Name: "runtime.powerState", Op: types.PropertyChangeOpAssign, Val: types.VirtualMachinePowerStatePoweredOn},
	}
}

// devices returns the device list of a real VM of hardware version 19.
func devices(name string, i int, macs [2]string) []types.BaseVirtualDevice {
	info := func(label, summary string) *types.Description {
		return &types.Description{Label: label, Summary: summary}
	}
	ctl := func(key, bus int32, label string, devs ...int32) types.VirtualController {
		return types.VirtualController{VirtualDevice: types.VirtualDevice{Key: key, DeviceInfo: info(label, label)}, BusNumber: bus, Device: devs}
	}
	pci := func(slot int32) *types.VirtualDevicePciBusSlotInfo {
		return &types.VirtualDevicePciBusSlotInfo{PciSlotNumber: slot}
	}
	disk := func(n int, key int32, chain int) types.BaseVirtualDevice {
		var backing *types.VirtualDiskFlatVer2BackingInfo
		for c := range chain {
			file := fmt.Sprintf("[vsanDatastore] 5e1c2a61-%04x-%04x/%s_%d.vmdk", i>>16, i&0xffff, name, n)
			if c > 0 {
				file = fmt.Sprintf("[vsanDatastore] 5e1c2a61-%04x-%04x/%s_%d-%06d.vmdk", i>>16, i&0xffff, name, n, c)
			}
			backing = &types.VirtualDiskFlatVer2BackingInfo{
				VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: file,
					Datastore: &types.ManagedObjectReference{Type: "Datastore", Value: "datastore-1001"}, BackingObjectId: ptr(fmt.Sprintf("%x-%d-%d", i, n, c))},
				DiskMode: string(types.VirtualDiskModePersistent), Split: types.NewBool(false), WriteThrough: types.NewBool(false),
				ThinProvisioned: types.NewBool(true), EagerlyScrub: types.NewBool(false),
				Uuid:      fmt.Sprintf("6000C29%d-%04x-%04x-%04x-%012x", n, i>>16, i&0xffff, c, i),
				ContentId: fmt.Sprintf("%08x%08x%08x%08x", i, n, c, i^0x5a5a5a5a), Sharing: "sharingNone", Parent: backing,
			}
		}
		return &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: key, DeviceInfo: info(fmt.Sprintf("Hard disk %d", n), "41,943,040 KB"),
			Backing: backing, ControllerKey: 1000, UnitNumber: types.NewInt32(int32(n - 1))},
			CapacityInKB: 41943040, CapacityInBytes: 42949672960, DiskObjectId: fmt.Sprintf("%d-%d", 1000+i, key)}
	}
	nic := func(n int, key int32, mac string, connected bool, backing types.BaseVirtualDeviceBackingInfo) types.BaseVirtualDevice {
		return &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
			VirtualDevice: types.VirtualDevice{Key: key, DeviceInfo: info(fmt.Sprintf("Network adapter %d", n), "DVSwitch: 50 0f 1c 2d 3e 4f 5a 6b-7c 8d 9e af b0 c1 d2 e3"),
				Backing: backing, SlotInfo: pci(int32(160 + 32*n)), ControllerKey: 100, UnitNumber: types.NewInt32(int32(6 + n)),
				Connectable: &types.VirtualDeviceConnectInfo{StartConnected: connected, Connected: connected, AllowGuestControl: true, Status: "ok"}},
			AddressType: string(types.VirtualEthernetCardMacTypeAssigned), MacAddress: mac, WakeOnLanEnabled: types.NewBool(true),
			ResourceAllocation: &types.VirtualEthernetCardResourceAllocation{Reservation: types.NewInt64(0), Limit: types.NewInt64(-1),
				Share: types.SharesInfo{Shares: 50, Level: types.SharesLevelNormal}},
			UptCompatibilityEnabled: types.NewBool(true)}}}
	}
	return []types.BaseVirtualDevice{
		&types.VirtualIDEController{VirtualController: ctl(200, 0, "IDE 0")},
		&types.VirtualIDEController{VirtualController: ctl(201, 1, "IDE 1", 3002)},
		&types.VirtualPS2Controller{VirtualController: ctl(300, 0, "PS2 controller 0", 600, 700)},
		&types.VirtualPCIController{VirtualController: ctl(100, 0, "PCI controller 0", 500, 12000, 14000, 1000, 4000, 4001)},
		&types.VirtualSIOController{VirtualController: ctl(400, 0, "SIO controller 0")},
		&types.VirtualKeyboard{VirtualDevice: types.VirtualDevice{Key: 600, DeviceInfo: info("Keyboard", "Keyboard"), ControllerKey: 300, UnitNumber: types.NewInt32(0)}},
		&types.VirtualPointingDevice{VirtualDevice: types.VirtualDevice{Key: 700, DeviceInfo: info("Pointing device", "Pointing device; Device"),
			Backing:       &types.VirtualPointingDeviceDeviceBackingInfo{HostPointingDevice: "autodetect", VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: ""}},
			ControllerKey: 300, UnitNumber: types.NewInt32(1)}},
		&types.VirtualMachineVideoCard{VirtualDevice: types.VirtualDevice{Key: 500, DeviceInfo: info("Video card ", "Video card"), ControllerKey: 100, UnitNumber: types.NewInt32(0)},
			VideoRamSizeInKB: 16384, NumDisplays: 1, UseAutoDetect: types.NewBool(false), Enable3DSupport: types.NewBool(false), Use3dRenderer: "automatic", GraphicsMemorySizeInKB: 262144},
		&types.VirtualMachineVMCIDevice{VirtualDevice: types.VirtualDevice{Key: 12000, DeviceInfo: info("VMCI device", "Device on the virtual machine PCI bus that provides support for the virtual machine communication interface"),
			SlotInfo: pci(32), ControllerKey: 100, UnitNumber: types.NewInt32(17)}, Id: int64(i) ^ 0x6a5b4c3d, AllowUnrestrictedCommunication: types.NewBool(false), FilterEnable: types.NewBool(true)},
		&types.VirtualUSBXHCIController{VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: 14000, DeviceInfo: info("USB xHCI controller ", "USB xHCI controller"),
			SlotInfo: pci(224), ControllerKey: 100, UnitNumber: types.NewInt32(23)}}, AutoConnectDevices: types.NewBool(false)},
		&types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{VirtualController: types.VirtualController{
			VirtualDevice: types.VirtualDevice{Key: 1000, DeviceInfo: info("SCSI controller 0", "VMware paravirtual SCSI"), SlotInfo: pci(160), ControllerKey: 100, UnitNumber: types.NewInt32(3)},
			Device:        []int32{2000, 2001, 2002}}, HotAddRemove: types.NewBool(true), SharedBus: types.VirtualSCSISharingNoSharing, ScsiCtlrUnitNumber: 7}},
		&types.VirtualCdrom{VirtualDevice: types.VirtualDevice{Key: 3002, DeviceInfo: info("CD/DVD drive 1", "Remote device"),
			Backing:     &types.VirtualCdromRemotePassthroughBackingInfo{VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{UseAutoDetect: types.NewBool(false)}},
			Connectable: &types.VirtualDeviceConnectInfo{AllowGuestControl: true, Status: "untried"}, ControllerKey: 201, UnitNumber: types.NewInt32(0)}},
		disk(1, 2000, 2), disk(2, 2001, 1), disk(3, 2002, 1),
		nic(1, 4000, macs[0], true, &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{Port: types.DistributedVirtualSwitchPortConnection{
			SwitchUuid: "50 0f 1c 2d 3e 4f 5a 6b-7c 8d 9e af b0 c1 d2 e3", PortgroupKey: "dvportgroup-2001", PortKey: fmt.Sprint(i), ConnectionCookie: int32(i)}}),
		nic(2, 4001, macs[1], false, &types.VirtualEthernetCardNetworkBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"},
			Network: &types.ManagedObjectReference{Type: "Network", Value: "network-11"}}),
	}
}

// envelope is a SOAP answer as vCenter and vcsim write it.
type envelope struct {
	XMLName xml.Name `xml:"soapenv:Envelope"`
	Env     string   `xml:"xmlns:soapenv,attr"`
	XSD     string   `xml:"xmlns:xsd,attr"`
	XSI     string   `xml:"xmlns:xsi,attr"`
	Body    vimBody  `xml:"soapenv:Body"`
}

// vimBody is a SOAP body holding one vim25 response, named by its type.
type vimBody struct{ res any }

func (b vimBody) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	name := xml.StartElement{Name: xml.Name{Space: "urn:vim25", Local: reflect.TypeOf(b.res).Elem().Name()}}
	if err := e.EncodeElement(b.res, name); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

// pages encodes objects as WaitForUpdatesEx answers of at most page
// objects, every one but the last truncated.
func pages(objects []types.ObjectUpdate, page int) ([][]byte, error) {
	var out [][]byte
	for start := 0; start < len(objects); start += page {
		end := min(start+page, len(objects))
		set := &types.UpdateSet{Version: fmt.Sprint(len(out) + 1), FilterSet: []types.PropertyFilterUpdate{{
			Filter: types.ManagedObjectReference{Type: "PropertyFilter", Value: "session[big]filter"}, ObjectSet: objects[start:end]}}}
		if end < len(objects) {
			set.Truncated = types.NewBool(true)
		}
		b, err := encode(set)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// encode returns the bytes of one WaitForUpdatesEx answer: set, or, when
// nil, an answer whose wait ended with no change.
func encode(set *types.UpdateSet) ([]byte, error) {
	return encodeAny(&types.WaitForUpdatesExResponse{Returnval: set})
}

// encodeAny returns the bytes of an answer holding res, a pointer to a
// vim25 response.
func encodeAny(res any) ([]byte, error) {
	env := envelope{Env: "http://schemas.xmlsoap.org/soap/envelope/", XSD: "http://www.w3.org/2001/XMLSchema", XSI: "http://www.w3.org/2001/XMLSchema-instance",
		Body: vimBody{res}}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(&env); err != nil {
		return nil, fmt.Errorf("encode an answer: %w", err)
	}
	// Go's encoder declares the instance namespace again on every value
	// under a name of its own; vCenter uses the envelope's xsi.
	out := bytes.ReplaceAll(b.Bytes(), []byte(` xmlns:_XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"`), nil)
	return bytes.ReplaceAll(out, []byte("_XMLSchema-instance:type"), []byte("xsi:type")), nil
}

// Decode decodes one WaitForUpdatesEx answer as govmomi's SOAP client
// does, and nothing else: the bare cost of reading it.
func Decode(page []byte) (*types.UpdateSet, error) {
	var body methods.WaitForUpdatesExBody
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.TypeFunc = types.TypeFunc()
	if err := dec.Decode(&soap.Envelope{Body: &body}); err != nil {
		return nil, err
	}
	if body.Res == nil {
		return nil, fmt.Errorf("no WaitForUpdatesExResponse in the answer")
	}
	return body.Res.Returnval, nil
}

func ptr[T any](v T) *T { return &v }
