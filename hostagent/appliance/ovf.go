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
	// Capacity is the disk's size in the VM, in bytes.
	Capacity int64
}

// Descriptor returns the appliance's OVF descriptor: one VM (2 vCPUs,
// 1 GiB, a VMXNET3 NIC, the disk on a paravirtual SCSI controller, a
// CD-ROM for the ISO transport), the properties of Properties in a
// product section, and the OVF environment offered both by ISO and by
// VMware Tools (guestinfo.ovfEnv).
func Descriptor(version string, disk Disk) ([]byte, error) {
	var b bytes.Buffer
	err := descriptor.Execute(&b, struct {
		Version    string
		Disk       Disk
		Categories []category
	}{version, disk, categories()})
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

// valueMap is an OVF qualifier listing a property's choices.
func valueMap(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = `"` + c + `"`
	}
	return "ValueMap{" + strings.Join(q, ",") + "}"
}

var descriptor = template.Must(template.New("ovf").Funcs(template.FuncMap{"x": xmlEscape, "valueMap": valueMap}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="{{x .Disk.File}}" ovf:id="file1" ovf:size="{{.Disk.Size}}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="{{.Disk.Capacity}}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
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
      <Property ovf:key="{{x .Key}}" ovf:type="{{.Type}}" ovf:userConfigurable="true" ovf:value="{{x .Default}}"{{if .Secret}} ovf:password="true"{{end}}{{if .Choices}} ovf:qualifiers="{{x (valueMap .Choices)}}"{{end}}>
        <Label>{{x .Label}}</Label>
        <Description>{{x .Description}}</Description>
      </Property>
{{- end}}
{{- end}}
    </ProductSection>
    <OperatingSystemSection ovf:id="96" vmw:osType="debian12_64Guest">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian GNU/Linux 12 (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection ovf:transport="iso com.vmware.guestInfo">
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
        <rasd:Address>0</rasd:Address>
        <rasd:Description>IDE Controller</rasd:Description>
        <rasd:ElementName>IDE 0</rasd:ElementName>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:ResourceType>5</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item ovf:required="false">
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>false</rasd:AutomaticAllocation>
        <rasd:ElementName>CD/DVD drive 1: the OVF environment (ISO transport)</rasd:ElementName>
        <rasd:InstanceID>6</rasd:InstanceID>
        <rasd:Parent>4</rasd:Parent>
        <rasd:ResourceSubType>vmware.cdrom.remotepassthrough</rasd:ResourceSubType>
        <rasd:ResourceType>15</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VMXNET3 ethernet adapter on "VM Network"</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>7</rasd:InstanceID>
        <rasd:ResourceSubType>VMXNET3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="tools.syncTimeWithHost" vmw:value="false"/>
      <vmw:Config ovf:required="false" vmw:key="powerOpInfo.powerOffType" vmw:value="soft"/>
      <vmw:Config ovf:required="false" vmw:key="powerOpInfo.resetType" vmw:value="soft"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`))
