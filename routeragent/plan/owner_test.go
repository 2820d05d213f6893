package plan

import (
	"net/netip"
	"time"

	"fmt"
	"github.com/vmroute/vmroute/shared/wire"
	"strings"
	"testing"
)

// Catches the owner rule counting addresses: one guest with 200 addresses
// in a subnet moved its summary to its site, over two VMs at home. Rule 2
// counts members, and a VM is one; a pinned address is one.
func TestOwnerCountsVMsNotAddresses(t *testing.T) {
	var many []string
	for i := range 200 {
		many = append(many, fmt.Sprintf("198.51.100.%d", 10+i))
	}
	p, err := New(testConfig("A"))
	if err != nil {
		t.Fatal(err)
	}
	setCluster(p, "A", "cl-a", []wire.VM{vm("a1", 0, "198.51.100.2"), vm("a2", 0, "198.51.100.3")})
	setCluster(p, "B", "cl-b", []wire.VM{vm("big", 0, strings.Join(many, " "))})
	if got := ownerOf(t, p, "198.51.100.0/24"); got != "A" {
		t.Errorf("owner %s: one VM with 200 addresses at B against two VMs at A, want A", got)
	}
	// Three pinned addresses at home B are three members: B owns again.
	cfg := testConfig("A")
	for _, a := range []string{"198.51.100.250", "198.51.100.251", "198.51.100.252"} {
		cfg.Subnets[1].Pinned = append(cfg.Subnets[1].Pinned, netip.MustParseAddr(a))
	}
	p, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	setCluster(p, "A", "cl-a", []wire.VM{vm("a1", 0, "198.51.100.2"), vm("a2", 0, "198.51.100.3")})
	if got := ownerOf(t, p, "198.51.100.0/24"); got != "B" {
		t.Errorf("owner %s: three pinned addresses at B against two VMs at A, want B", got)
	}
}

func ownerOf(t *testing.T, p *Planner, prefix string) string {
	t.Helper()
	for _, s := range p.Plan(t0.Add(time.Hour)).Subnets {
		if s.Prefix.String() == prefix {
			return s.Owner
		}
	}
	t.Fatalf("no subnet %s", prefix)
	return ""
}
