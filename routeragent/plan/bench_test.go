package plan

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// benchWorld is 10,000 VMs in 40 /24 subnets over two sites, each subnet
// homed at one of them, one VM in ten away from home. The addresses are
// planner data only; nothing is sent to them.
func benchWorld() (Config, map[string][]wire.VM) {
	cfg := Config{Site: "A", Guards: Guards{HostRouteCeiling: 1000, TotalHostRouteCeiling: 10000}}
	reports := map[string][]wire.VM{}
	sites := []string{"A", "B"}
	for s := range 40 {
		home := sites[s%2]
		pfx := netip.MustParsePrefix(fmt.Sprintf("10.40.%d.0/24", s))
		cfg.Subnets = append(cfg.Subnets, Subnet{Prefix: pfx, Home: home, Interface: "br0",
			Gateways: []netip.Addr{pfx.Addr().Next()}})
		for h := range 250 {
			site := home
			if h%10 == 0 {
				site = sites[(s+1)%2]
			}
			id := fmt.Sprintf("vm-%d-%d", s, h)
			reports[site] = append(reports[site], wire.VM{
				UUID: id, Name: id, Site: site, PowerState: wire.PoweredOn, LandedAt: t0,
				NICs: []wire.NIC{{MAC: wire.MAC{2, 0, 0, byte(s), byte(h >> 8), byte(h)},
					Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, 40, byte(s), byte(h + 2)})}}},
			})
		}
	}
	return cfg, reports
}

// BenchmarkPlan10k is one full recompute: both clusters' full reports into
// a new planner, then a plan.
func BenchmarkPlan10k(b *testing.B) {
	cfg, reports := benchWorld()
	b.ReportAllocs()
	for b.Loop() {
		p, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		p.SetCluster("cl-A", reports["A"], nil)
		p.SetCluster("cl-B", reports["B"], nil)
		if res := p.Plan(t0); len(res.Subnets) != 40 {
			b.Fatal("wrong plan")
		}
	}
}

// BenchmarkPlanOneMove is the incremental path: one VM lands at the other
// site (its new cluster's delta, then its old cluster's), and a plan.
func BenchmarkPlanOneMove(b *testing.B) {
	cfg, reports := benchWorld()
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p.SetCluster("cl-A", reports["A"], nil)
	p.SetCluster("cl-B", reports["B"], nil)
	p.Plan(t0)
	vm := reports["A"][1]
	from, to := "cl-A", "cl-B"
	sites := map[string]string{"cl-A": "A", "cl-B": "B"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		vm.LandedAt, vm.Site = t0.Add(time.Duration(i)*time.Second), sites[to]
		if err := p.ApplyDelta(to, []wire.VM{vm}, nil); err != nil {
			b.Fatal(err)
		}
		if err := p.ApplyDelta(from, nil, []string{vm.UUID}); err != nil {
			b.Fatal(err)
		}
		p.Plan(vm.LandedAt)
		from, to = to, from
	}
}
