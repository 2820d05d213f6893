package vcsim

import (
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func TestBigRoundTrips(t *testing.T) {
	b := Big{Clusters: []types.ManagedObjectReference{{Type: "ClusterComputeResource", Value: "domain-c1"}, {Type: "ClusterComputeResource", Value: "domain-c2"}},
		Hosts: 4, VMs: 10}
	pages, err := b.Sync(5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 {
		t.Fatalf("%d pages of 5 for 15 objects, want 3", len(pages))
	}
	var objects, devices, size int
	for i, p := range pages {
		size += len(p)
		set, err := Decode(p)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if truncated := set.Truncated != nil && *set.Truncated; truncated != (i < 2) {
			t.Errorf("page %d: truncated %v", i, truncated)
		}
		for _, u := range set.FilterSet[0].ObjectSet {
			objects++
			for _, c := range u.ChangeSet {
				if d, ok := c.Val.(types.ArrayOfVirtualDevice); ok {
					devices = len(d.VirtualDevice)
					if card, ok := d.VirtualDevice[len(d.VirtualDevice)-1].(*types.VirtualVmxnet3); !ok || card.Connectable.Connected {
						t.Errorf("the last device %T, want an adapter not connected", d.VirtualDevice[len(d.VirtualDevice)-1])
					}
				}
				if c.Name == "parent" && c.Val != b.Clusters[1] && c.Val != b.Clusters[0] {
					t.Errorf("a host's parent %v", c.Val)
				}
			}
		}
	}
	if objects != 15 || devices < 13 {
		t.Errorf("%d objects, %d devices per VM; want 15 and 13 or more", objects, devices)
	}
	t.Logf("%d bytes for 4 hosts and 10 VMs: about %d per VM", size, size/10)
	moves, moved, err := b.Move(3, 2)
	if err != nil || len(moves) != 2 || len(moved) != 3 {
		t.Fatalf("Move: %d pages, %v, %v", len(moves), moved, err)
	}
	set, err := Decode(moves[0])
	if err != nil {
		t.Fatal(err)
	}
	if h := set.FilterSet[0].ObjectSet[0].ChangeSet[0].Val; h != b.HostRef(1) || b.ClusterOf(moved[0]) != 0 {
		t.Errorf("VM %d moves to %v, want host 1 of the second cluster", moved[0], h)
	}
	after, err := b.Sync(20, moved)
	if err != nil {
		t.Fatal(err)
	}
	set, err = Decode(after[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range set.FilterSet[0].ObjectSet {
		for _, c := range u.ChangeSet {
			if u.Obj == b.VMRef(moved[0]) && c.Name == "runtime.host" && c.Val != b.HostRef(1) {
				t.Errorf("a sync after the move has VM %d on %v, want host 1", moved[0], c.Val)
			}
		}
	}
}
