// Package wire holds the v2 report contract between a hostagent and a
// routeragent: JSON over HTTPS with mutual TLS.
//
// A hostagent sends one Report per change set for one cluster. A full
// report lists every VM the cluster holds; a delta lists the VMs that
// changed and the ones that left, against the generation it names as Base.
// A report is validated whole and applied whole or not at all.
//
// # Version 2: sites are made of hosts
//
// In v1 a report named one site for its whole cluster, and a VM "landed"
// when its cluster changed. A stretched cluster (vMSC, vSAN stretched)
// spans two sites, so in v2 each VM carries its own Site, the site of its
// host, and LandedAt is when that site last changed; the report itself
// names no site, and a VM's host is not sent, so that a move between two
// hosts of one site changes nothing on the wire.
//
// v2 is a new path, not a compatible extension of v1: the meaning of
// LandedAt changed, and a v1 routeragent would read a stretched cluster's
// report as all at one site. A mismatch is a clear error on both sides,
// never a misreading: a v2 routeragent answers POST /v1/reports with 410
// Gone and a Problem saying to upgrade the hostagent, and a v2 hostagent
// reports a 404 on /v2/reports as a routeragent that speaks only v1. While
// the versions differ no report is accepted, and since losing reports
// changes no route (fail static), the routes stay as they were until both
// sides speak v2.
//
// # Optional fields: how v2 grows
//
// Within v2 the format grows only by optional fields, so that a hostagent
// and a routeragent one release apart work together in both directions:
//   - a routeragent ignores the fields it does not know, at any depth,
//     and says so (Report.Ignored; it logs them once per cluster); keys
//     given twice or not in lowercase stay errors, and so does a bad value
//     of a field it knows;
//   - a new field is optional: a report without it means what it meant
//     before, so that an older hostagent's reports are read as they were;
//   - a routeragent that ignores a new field plans correctly without it:
//     the field may add a fast path or a detail, never change what the
//     rest of the report means. A change that would is a new path (v3),
//     as v2 was.
package wire

import (
	"net/netip"
	"time"
)

// ReportsPath is where a routeragent accepts reports (POST).
const ReportsPath = "/v2/reports"

// V1ReportsPath is where v1 hostagents post; a v2 routeragent refuses
// them there with 410 Gone.
const V1ReportsPath = "/v1/reports"

// AuthorizePath answers GET with 204 when the client certificate may
// report the cluster its ClusterHeader names, and 403 when not: a
// hostagent's preflight asks it, and sends no report.
const AuthorizePath = "/v2/authorize"

// ClusterHeader names, path-escaped, the cluster a posted report is for:
// a routeragent authorizes the client certificate for the cluster before
// it reads the body, and refuses a body for another cluster.
const ClusterHeader = "Vmroute-Cluster"

// MaxReportBytes is the largest report body a routeragent accepts by
// default: room for about 100,000 VMs.
const MaxReportBytes = 32 << 20

// Limits on one report, so a broken or hostile sender cannot make a
// routeragent hold unbounded data, or wedge a cluster with a generation
// that has no successor.
const (
	MaxVMs       = 100_000
	MaxNICs      = 64
	MaxAddresses = 256
	MaxNameLen   = 255
	// MaxGeneration is the highest generation: hostagents start above
	// the Unix time in nanoseconds, which stays below it until 2116.
	MaxGeneration = 4611686018427387903 // 2^62 - 1
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
	// Ignored are, in a decoded report, the fields this version does not
	// know (a newer hostagent's optional ones), by their paths without
	// indexes, as vms.nics.vlan. They are not sent.
	Ignored []string `json:"-"`
}

// VM is one virtual machine as its cluster's hostagent sees it.
type VM struct {
	// UUID is the VM's instance UUID (config.instanceUuid).
	UUID string `json:"uuid"`
	// BIOSUUID is the VM's BIOS UUID (config.uuid), when known. It
	// identifies a VM whose instance UUID a cross-vCenter vMotion changed
	// (the destination vCenter already held that instance UUID): together
	// with the VM's set of MACs, it names the same VM. Optional: a
	// routeragent that ignores it keeps the two claims apart.
	BIOSUUID string `json:"bios_uuid,omitempty"`
	// Name is the VM's inventory name, for people.
	Name string `json:"name"`
	// Site is the site of the host the VM runs on, by the hostagent's
	// host-to-site mapping; while that host is unplaced, the VM's last
	// known site.
	Site string `json:"site"`
	// PowerState is runtime.powerState.
	PowerState PowerState `json:"power_state"`
	// LandedAt is when the VM arrived at its site, by vCenter's clock. It
	// orders claims of two clusters. It is absent (zero) when the landing
	// is not known: a VM a hostagent found in place with no landing saved.
	// An unknown landing never beats a known one.
	LandedAt time.Time `json:"landed_at,omitzero"`
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
