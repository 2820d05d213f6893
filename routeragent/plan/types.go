// Package plan turns the routeragent's configuration and the hostagents'
// cluster reports into the desired state of every site: which prefixes
// each site announces in BGP, and which VMs this site's router must send
// gateway announcements to. It is pure: no network, BGP or vSphere code,
// no clock of its own; the caller passes the time.
//
// The rules are those of DESIGN.md. For each subnet S with home site H:
// members(S) are the addresses in S of every present VM, each VM counted
// once at the site of its latest landing (by vCenter's clock), plus the
// pinned addresses, always at H; owner(S) is the site that holds the most
// members, a tie going to H (or, by the home policy, the site that holds
// every member, else H); the owner announces S and every member not at the
// owner gets a host route from the site where it is. A site over a
// host-route ceiling announces S itself instead.
//
// A claim is one cluster's report of a VM at the site the VM carries, so
// a stretched cluster, whose hosts sit in two sites, claims its VMs at
// either.
package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// Config is what the planner needs of the routeragent's configuration.
type Config struct {
	// Site is this routeragent's site.
	Site string
	// Subnets are the stretched subnets; they must not overlap.
	Subnets []Subnet
	// Guards are the safety limits.
	Guards Guards
	// ClockSkew is how far the clocks of two vCenters may differ: a
	// tombstone voids only claims that landed before it by more.
	ClockSkew time.Duration
	// Reserved are this router's own addresses (its interfaces, its BGP
	// next hops and neighbors): a VM that reports one gets no route.
	Reserved []netip.Addr
}

// Subnet is one stretched subnet.
type Subnet struct {
	// Prefix is the subnet, IPv4 or IPv6.
	Prefix netip.Prefix
	// Home is the site that announces the subnet unless all of it moved.
	Home string
	// Interface is this router's interface on the subnet's L2 segment.
	Interface string
	// Gateways are the gateway addresses to announce to VMs that land here:
	// inside Prefix, or IPv6 link-local.
	Gateways []netip.Addr
	// Pinned addresses (physical hosts, appliances) are always at Home.
	Pinned []netip.Addr
	// Reserved addresses belong to the network itself (the routers' own
	// addresses on the segment): a VM that reports one gets no route.
	// The subnet's network and broadcast addresses and its gateways are
	// reserved too.
	Reserved []netip.Addr
	// Networks are port groups that carry the subnet: when set, a VM's
	// address counts for the subnet only on an adapter on one of them, and
	// a VM without reported addresses there still gets its gateway
	// announced.
	Networks []string
	// HostRouteCeiling overrides Guards.HostRouteCeiling when not zero.
	HostRouteCeiling int
}

// OwnerPolicy decides which site announces a subnet whose members are
// spread over several sites.
type OwnerPolicy uint8

// Owner policies.
const (
	// OwnerMajority is DESIGN.md's rule 2, the default: a spread subnet
	// goes to the site that holds the most members, ties to the home site
	// and then to the first site by name, so that one VM returning from a
	// moved subnet costs one host route.
	OwnerMajority OwnerPolicy = iota
	// OwnerHome is the older rule: the site that holds every member,
	// otherwise the home site.
	OwnerHome
)

// Guards are the planner's safety limits. Zero turns a limit off.
type Guards struct {
	// Owner is the owner policy for spread subnets.
	Owner OwnerPolicy
	// HostRouteCeiling is the most host routes one site announces for one
	// subnet before it announces the subnet instead.
	HostRouteCeiling int
	// TotalHostRouteCeiling is the most host routes one site announces in
	// all; past it the site summarises its largest subnets first.
	TotalHostRouteCeiling int
	// FlapMoves landings within FlapWindow mark a VM as flapping; it is
	// then held where it was until FlapWindow passes without a landing.
	FlapMoves  int
	FlapWindow time.Duration
	// FreshLanding bounds, in the first report of a cluster, how old a
	// landing may be and still trigger gateway announcements, so that a
	// restart does not announce to every VM at once.
	FreshLanding time.Duration
}

// Kind tells host routes from subnet summaries.
type Kind uint8

// Route kinds.
const (
	Host Kind = iota + 1
	Summary
	// Half is one of the two halves of a subnet, one bit longer, that a
	// site taking the subnet over from a lost site announces for a while:
	// by longest match they win over the lost site's summary, which the
	// WAN may still hold (DESIGN.md rule 6). They carry the host routes'
	// communities.
	Half
)

// String returns "host", "summary" or "half".
func (k Kind) String() string {
	switch k {
	case Host:
		return "host"
	case Summary:
		return "summary"
	case Half:
		return "half"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "host":
		*k = Host
	case "summary":
		*k = Summary
	case "half":
		*k = Half
	default:
		return fmt.Errorf("route kind %q is not host, summary or half", b)
	}
	return nil
}

// Route is one prefix a site announces.
type Route struct {
	Prefix netip.Prefix `json:"prefix"`
	Kind   Kind         `json:"kind"`
	Site   string       `json:"site"`
}

// Neighbor is one gateway announcement target: a VM's adapter on a subnet
// at this site.
type Neighbor struct {
	VM        string       `json:"vm"`
	Name      string       `json:"name"`
	Subnet    netip.Prefix `json:"subnet"`
	Interface string       `json:"interface"`
	MAC       wire.MAC     `json:"mac"`
	Addrs     []netip.Addr `json:"addrs,omitempty"`
	Gateways  []netip.Addr `json:"gateways"`
	LandedAt  time.Time    `json:"landed_at"`
}

// SubnetResult is the plan of one subnet. Results are immutable; a new
// plan shares the parts of subnets that did not change.
type SubnetResult struct {
	Prefix  netip.Prefix `json:"prefix"`
	Home    string       `json:"home"`
	Owner   string       `json:"owner"`
	Members int          `json:"members"`
	// Summaries are the sites that announce the subnet: the owner, then
	// any site over a ceiling, sorted.
	Summaries []string `json:"summaries"`
	// Hosts are the host routes by announcing site.
	Hosts map[string][]netip.Prefix `json:"hosts,omitempty"`
	// Neighbors are this site's VM adapters on the subnet.
	Neighbors []Neighbor `json:"neighbors,omitempty"`
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Halves are the sites that announce the subnet's two halves (rule 6).
	Halves []string `json:"halves,omitempty"`
	// Takeover is set while this site takes the subnet over.
	Takeover *Takeover `json:"takeover,omitempty"`
	// DeferredTo is the site this site, whose reports are not current,
	// leaves the subnet to, though it would own it.
	DeferredTo string `json:"deferred_to,omitempty"`
}

// Result is one plan.
type Result struct {
	// Site is the site the plan was made for.
	Site    string          `json:"site"`
	Subnets []*SubnetResult `json:"subnets"`
	// Landed are the adapters of VMs that landed at this site since the
	// previous plan, subnet by subnet: a burst of gateway announcements
	// is due for them. They point into Subnets' Neighbors.
	Landed   []*Neighbor `json:"landed,omitempty"`
	Findings Findings    `json:"findings"`
	// NextWake is when the plan changes by the passing of time alone (a
	// held VM is released); zero when it does not.
	NextWake time.Time `json:"next_wake,omitzero"`
}

// Findings are what the plan noticed for status and logs.
type Findings struct {
	Conflicts []Conflict `json:"conflicts,omitempty"`
	Outside   []Outside  `json:"outside,omitempty"`
	// Infrastructure are VM addresses that belong to the network: a
	// subnet's network or broadcast address, a gateway, a router's own.
	Infrastructure []Infrastructure `json:"infrastructure,omitempty"`
	// OffNetwork are addresses in a subnet that lists its networks, on an
	// adapter connected to none of them: they count for nothing.
	OffNetwork []OffNetwork `json:"off_network,omitempty"`
	Ceilings   []Ceiling    `json:"ceilings,omitempty"`
	Held       []Held       `json:"held,omitempty"`
	Stale      []string     `json:"stale,omitempty"`
}

// Conflict is an address claimed by more than one VM (or a VM and a pinned
// address): it gets no host route.
type Conflict struct {
	Addr netip.Addr `json:"addr"`
	// VMs are the claimants' UUIDs, sorted; "pinned" for a pinned address.
	VMs []string `json:"vms"`
}

// Outside is a VM address inside no configured subnet: never announced.
type Outside struct {
	VM   string     `json:"vm"`
	Addr netip.Addr `json:"addr"`
}

// Infrastructure is a VM address that belongs to the network (a tenant can
// set any address in its guest): it gets no route.
type Infrastructure struct {
	VM   string     `json:"vm"`
	Addr netip.Addr `json:"addr"`
	// What it is: "network address", "broadcast address", "gateway",
	// "reserved" or "this router's".
	What string `json:"what"`
}

// OffNetwork is a VM address in a subnet, on an adapter outside the
// subnet's networks (port groups): never a member, never announced.
type OffNetwork struct {
	VM      string     `json:"vm"`
	Addr    netip.Addr `json:"addr"`
	Network string     `json:"network"`
}

// Ceiling is a site that announces a subnet instead of its host routes.
type Ceiling struct {
	Site       string       `json:"site"`
	Subnet     netip.Prefix `json:"subnet"`
	HostRoutes int          `json:"host_routes"`
	// Total is set when the site-wide ceiling, not the subnet's, was hit.
	Total bool `json:"total,omitempty"`
}

// Held is a flapping VM kept at the site it was announced from.
type Held struct {
	VM     string    `json:"vm"`
	Site   string    `json:"site"`
	Actual string    `json:"actual"`
	Until  time.Time `json:"until"`
}

// Routes returns the prefixes site announces, subnet by subnet in
// configuration order, each subnet's host routes sorted.
func (r *Result) Routes(site string) []Route {
	var out []Route
	for _, s := range r.Subnets {
		for _, sum := range s.Summaries {
			if sum == site {
				out = append(out, Route{Prefix: s.Prefix, Kind: Summary, Site: site})
			}
		}
		if slices.Contains(s.Halves, site) {
			for _, h := range halves(s.Prefix) {
				out = append(out, Route{Prefix: h, Kind: Half, Site: site})
			}
		}
		for _, p := range s.Hosts[site] {
			out = append(out, Route{Prefix: p, Kind: Host, Site: site})
		}
	}
	return out
}

// Neighbors returns every adapter at this site that gateway announcements
// go to, subnet by subnet.
func (r *Result) Neighbors() []Neighbor {
	var out []Neighbor
	for _, s := range r.Subnets {
		out = append(out, s.Neighbors...)
	}
	return out
}
