// Package wire holds the v1 report contract between a hostagent and a
// routeragent: JSON over HTTPS with mutual TLS.
//
// A hostagent sends one Report per change set for one cluster. A full
// report lists every VM the cluster holds; a delta lists the VMs that
// changed and the ones that left, against the generation it names as Base.
// A report is validated whole and applied whole or not at all.
package wire

import (
	"net/netip"
	"time"
)

// ReportsPath is where a routeragent accepts reports (POST).
const ReportsPath = "/v1/reports"

// MaxReportBytes is the largest report body a routeragent accepts by
// default: room for about 100,000 VMs.
const MaxReportBytes = 32 << 20

// Limits on one report, so a broken or hostile sender cannot make a
// routeragent hold unbounded data.
const (
	MaxVMs       = 100_000
	MaxNICs      = 64
	MaxAddresses = 256
	MaxNameLen   = 255
)

// Kind tells a full snapshot from a delta.
type Kind string

// Report kinds.
const (
	KindFull  Kind = "full"
	KindDelta Kind = "delta"
)

// PowerState is vSphere's VirtualMachinePowerState.
type PowerState string

// Power states as vCenter names them.
const (
	PoweredOn  PowerState = "poweredOn"
	PoweredOff PowerState = "poweredOff"
	Suspended  PowerState = "suspended"
)

// Report is one cluster's state, or a change to it, as a hostagent sends it.
type Report struct {
	// Site is the site the cluster belongs to.
	Site string `json:"site"`
	// Cluster is the cluster's inventory path or name, as configured on
	// both agents.
	Cluster string `json:"cluster"`
	// Generation orders the reports of one cluster; it grows by one or
	// more with each report and starts again above the last one only with
	// a full report.
	Generation uint64 `json:"generation"`
	// Kind is KindFull or KindDelta.
	Kind Kind `json:"kind"`
	// Base is, for a delta, the generation the delta applies to.
	Base uint64 `json:"base,omitempty"`
	// VMs are, in a full report, every VM of the cluster (powered on or
	// not); in a delta, the VMs that are new or changed, each whole.
	VMs []VM `json:"vms"`
	// Removed are, in a delta, the instance UUIDs of VMs that left the
	// cluster or were deleted.
	Removed []string `json:"removed,omitempty"`
}

// VM is one virtual machine as its cluster's hostagent sees it.
type VM struct {
	// UUID is the VM's instance UUID (config.instanceUuid).
	UUID string `json:"uuid"`
	// Name is the VM's inventory name, for people.
	Name string `json:"name"`
	// Host is the ESXi host the VM runs on.
	Host string `json:"host"`
	// PowerState is runtime.powerState.
	PowerState PowerState `json:"power_state"`
	// LandedAt is when the VM arrived in this cluster (or was first seen
	// there), by vCenter's clock. It orders claims of two clusters.
	LandedAt time.Time `json:"landed_at"`
	// NICs are the VM's network adapters.
	NICs []NIC `json:"nics"`
}

// NIC is one network adapter and the addresses the guest reports on it.
type NIC struct {
	// MAC is the adapter's Ethernet address.
	MAC MAC `json:"mac"`
	// Network is the port group or network the adapter is connected to.
	Network string `json:"network,omitempty"`
	// Addresses are the IPv4 and IPv6 addresses of guest.net for this
	// MAC; empty when the VM has no VMware Tools.
	Addresses []netip.Addr `json:"addresses,omitempty"`
}

// Present reports whether the VM counts as running where it is reported.
func (vm *VM) Present() bool { return vm.PowerState == PoweredOn }

// Ack is a routeragent's answer to an accepted report.
type Ack struct {
	// Generation is the generation now held for the cluster.
	Generation uint64 `json:"generation"`
}

// Problem is the JSON body of every refused request.
type Problem struct {
	// Error says what is wrong and where.
	Error string `json:"error"`
	// Generation is, for a refused delta, the generation the routeragent
	// holds for the cluster (0 when it holds none): the sender must then
	// send a full report.
	Generation uint64 `json:"generation,omitempty"`
}
