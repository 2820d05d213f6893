package appliance

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"
)

// Disk is the appliance's one disk, as the OVA carries it.
type Disk struct {
	// File is its name in the OVA; Size its size there (a
	// streamOptimized VMDK).
	File string
	Size int64
	// Capacity is the disk's size in the VM, in bytes; Populated the
	// bytes of it that hold data (ovf:populatedSize), which vSphere
	// checks the datastore's free space against.
	Capacity, Populated int64
}

// GuestOS is the guest OS type the descriptor declares: an ID that every
// vSphere version the appliance claims (ESXi 6.5 and later, vCenter 7
// and 8) knows. debian12_64Guest and debian13_64Guest came only with API
// 8.0.0.1 and 9.0, and vSphere refuses to deploy or power on a guest OS
// type it does not know.
const GuestOS = "debian10_64Guest"

// ExtraConfig are the VMX options the descriptor sets. Only root in the
// guest may read guestinfo (open-vm-tools issue 288): the OVF
// environment, with every password in it, is not for the hostagent's
// own user.
var ExtraConfig = map[string]string{
	"guest_rpc.rpci.auth.cmd.info-get": "TRUE",
}

// Descriptor returns the appliance's OVF descriptor: one VM (2 vCPUs,
// 1 GiB, a VMXNET3 NIC, the disk on a paravirtual SCSI controller), the
// properties of Properties in a product section, and the OVF environment
// by VMware Tools (guestinfo.ovfEnv) only: the ISO transport would leave
// the environment, passwords and keys, as an ISO file on the datastore
// beside the VM, readable by anyone who may browse the datastore.
func Descriptor(version string, disk Disk) ([]byte, error) {
	var b bytes.Buffer
	err := descriptor.Execute(&b, struct {
		Version    string
		Disk       Disk
		Categories []category
		GuestOS    string
		Extra      map[string]string
	}{version, disk, categories(), GuestOS, ExtraConfig})
	if err != nil {
		return nil, fmt.Errorf("OVF descriptor: %w", err)
	}
	return b.Bytes(), nil
}

type category struct {
	Name       string
	Properties []Property
}

func categories() []category {
	var out []category
	for _, p := range Properties {
		if len(out) == 0 || out[len(out)-1].Name != p.Category {
			out = append(out, category{Name: p.Category})
		}
		out[len(out)-1].Properties = append(out[len(out)-1].Properties, p)
	}
	return out
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// qualifiers are a property's OVF qualifiers, as the wizard checks them:
// its choices (ValueMap), MinLen(1) when it is required, its MaxLen.
func qualifiers(p Property) string {
	var q []string
	if len(p.Choices) > 0 {
		c := make([]string, len(p.Choices))
		for i, v := range p.Choices {
			c[i] = `"` + v + `"`
		}
		q = append(q, "ValueMap{"+strings.Join(c, ",")+"}")
	}
	if p.Required {
		q = append(q, "MinLen(1)")
	}
	if p.MaxLen > 0 {
		q = append(q, fmt.Sprintf("MaxLen(%d)", p.MaxLen))
	}
	return strings.Join(q, ",")
}

var descriptor = template.Must(template.New("ovf").Funcs(template.FuncMap{"x": xmlEscape, "qualifiers": qualifiers}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="{{x .Disk.File}}" ovf:id="file1" ovf:size="{{.Disk.Size}}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="{{.Disk.Capacity}}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="{{.Disk.Populated}}"/>
  </DiskSection>
  <NetworkSection>
    <Info>The network the appliance reaches vCenter and the routeragents on</Info>
    <Network ovf:name="VM Network">
      <Description>The appliance's network: it reaches vCenter and every routeragent from here</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="vmroute-hostagent">
    <Info>The vmroute hostagent appliance: one per vSphere cluster</Info>
    <Name>vmroute-hostagent</Name>
    <AnnotationSection>
      <Info>A human-readable annotation</Info>
      <Annotation>vmroute hostagent {{x .Version}}: watches one cluster through vCenter and reports its VMs and their landings to every vmroute routeragent. Fill in the properties, then power on.</Annotation>
    </AnnotationSection>
    <ProductSection ovf:required="false">
      <Info>The appliance's configuration, read at every boot</Info>
      <Product>vmroute hostagent appliance</Product>
      <Vendor>vmroute</Vendor>
      <Version>{{x .Version}}</Version>
      <FullVersion>{{x .Version}}</FullVersion>
{{- range .Categories}}
      <Category>{{x .Name}}</Category>
{{- range .Properties}}
      <Property ovf:key="{{x .Key}}" ovf:type="{{.Type}}" ovf:userConfigurable="true" ovf:value="{{x .Default}}"{{if .Secret}} ovf:password="true"{{end}}{{with qualifiers .}} ovf:qualifiers="{{x .}}"{{end}}>
        <Label>{{x .Label}}</Label>
        <Description>{{x .Description}}</Description>
      </Property>
{{- end}}
{{- end}}
    </ProductSection>
    <OperatingSystemSection ovf:id="96" vmw:osType="{{.GuestOS}}">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian GNU/Linux (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection ovf:transport="com.vmware.guestInfo">
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>vmroute-hostagent</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of Virtual CPUs</rasd:Description>
        <rasd:ElementName>2 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>1024MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>1024</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VMXNET3 ethernet adapter on "VM Network"</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VMXNET3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="tools.syncTimeWithHost" vmw:value="false"/>
      <vmw:Config ovf:required="false" vmw:key="powerOpInfo.powerOffType" vmw:value="soft"/>
      <vmw:Config ovf:required="false" vmw:key="powerOpInfo.resetType" vmw:value="soft"/>
{{- range $k, $v := .Extra}}
      <vmw:ExtraConfig ovf:required="false" vmw:key="{{x $k}}" vmw:value="{{x $v}}"/>
{{- end}}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`))
