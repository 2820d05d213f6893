package vcsim

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func TestReplay(t *testing.T) {
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	defer m.Remove()
	s := m.Service.NewServer()
	defer s.Close()
	rp := NewReplay(s.URL)
	defer rp.Close()
	b := Big{Clusters: []types.ManagedObjectReference{{Type: "ClusterComputeResource", Value: "domain-c1"}}, Hosts: 2, VMs: 3}
	landing, rest, err := b.Sync(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	rp.SetSync(landing, rest)
	ctx := context.Background()
	c, err := vim25.NewClient(ctx, soap.NewClient(rp.URL, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		t.Fatalf("a login through the replay: %v", err)
	}
	// The landing filter is the one that follows landing events.
	hc, err := event.NewManager(c).CreateCollectorForEvents(ctx, types.EventFilterSpec{})
	if err != nil {
		t.Fatal(err)
	}
	collector := func(landing bool) *property.Collector {
		pc, err := property.DefaultCollector(c).Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if landing {
			if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{ObjectSet: []types.ObjectSpec{{Obj: hc.Reference()}},
				PropSet: []types.PropertySpec{{Type: "EventHistoryCollector", PathSet: []string{"latestPage"}}}}}); err != nil {
				t.Fatal(err)
			}
		}
		return pc
	}
	wait := int32(1)
	sync := func(pc *property.Collector, pages int, want string) *types.WaitForUpdatesEx {
		t.Helper()
		req := &types.WaitForUpdatesEx{This: pc.Reference(), Options: &types.WaitOptions{MaxWaitSeconds: &wait}}
		var got []string
		for i := range pages {
			res, err := methods.WaitForUpdatesEx(ctx, c, req)
			if err != nil || res.Returnval == nil {
				t.Fatalf("answer %d: %+v, %v", i, res, err)
			}
			for _, u := range res.Returnval.FilterSet[0].ObjectSet {
				got = append(got, u.Obj.Type)
			}
		}
		if fmt.Sprint(got) != want {
			t.Errorf("synced %v, want %s", got, want)
		}
		return req
	}
	req := sync(collector(true), len(landing), "[HostSystem HostSystem VirtualMachine VirtualMachine VirtualMachine]")
	sync(collector(false), len(rest), "[DistributedVirtualPortgroup VirtualMachine VirtualMachine VirtualMachine]")
	start := time.Now()
	if res, err := methods.WaitForUpdatesEx(ctx, c, req); err != nil || res.Returnval != nil || time.Since(start) < time.Second {
		t.Errorf("after the sync: %+v, %v after %s; want no change after maxWait", res, err, time.Since(start))
	}
	moves, _, err := b.Move(1, 10)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); rp.Push(moves) }()
	if res, err := methods.WaitForUpdatesEx(ctx, c, req); err != nil || res.Returnval == nil || len(res.Returnval.FilterSet[0].ObjectSet) != 1 {
		t.Errorf("a pushed move: %+v, %v", res, err)
	}
	rp.Expire()
	if _, err := methods.WaitForUpdatesEx(ctx, c, req); !fault.Is(err, &types.NotAuthenticated{}) {
		t.Errorf("after Expire: %v, want NotAuthenticated", err)
	}
	bs := rp.Batches()
	if len(bs) != 3 || !bs[0].Landing || bs[1].Landing || !bs[2].Landing || bs[0].Done.IsZero() || bs[1].Bytes == 0 || bs[2].Start.Before(bs[1].Done) {
		t.Errorf("batches %+v, want the landing filter's sync, the other's, then the move", bs)
	}
}
