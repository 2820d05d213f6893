package vcsim

import (
	"context"
	"testing"
	"time"

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
	sync, err := b.Sync(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	rp.SetSync(sync)
	ctx := context.Background()
	c, err := vim25.NewClient(ctx, soap.NewClient(rp.URL, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		t.Fatalf("a login through the replay: %v", err)
	}
	pc, err := property.DefaultCollector(c).Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait := int32(1)
	req := types.WaitForUpdatesEx{This: pc.Reference(), Options: &types.WaitOptions{MaxWaitSeconds: &wait}}
	var objects int
	for i := range len(sync) {
		res, err := methods.WaitForUpdatesEx(ctx, c, &req)
		if err != nil || res.Returnval == nil {
			t.Fatalf("answer %d: %+v, %v", i, res, err)
		}
		objects += len(res.Returnval.FilterSet[0].ObjectSet)
	}
	if objects != 6 {
		t.Errorf("%d objects synced, want 6", objects)
	}
	start := time.Now()
	if res, err := methods.WaitForUpdatesEx(ctx, c, &req); err != nil || res.Returnval != nil || time.Since(start) < time.Second {
		t.Errorf("after the sync: %+v, %v after %s; want no change after maxWait", res, err, time.Since(start))
	}
	moves, _, err := b.Move(1, 10)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); rp.Push(moves) }()
	if res, err := methods.WaitForUpdatesEx(ctx, c, &req); err != nil || res.Returnval == nil || len(res.Returnval.FilterSet[0].ObjectSet) != 1 {
		t.Errorf("a pushed move: %+v, %v", res, err)
	}
	rp.Expire()
	if _, err := methods.WaitForUpdatesEx(ctx, c, &req); !fault.Is(err, &types.NotAuthenticated{}) {
		t.Errorf("after Expire: %v, want NotAuthenticated", err)
	}
	bs := rp.Batches()
	if len(bs) != 2 || bs[0].Done.IsZero() || bs[0].Bytes == 0 || bs[1].Start.Before(bs[0].Done) {
		t.Errorf("batches %+v, want the sync then the move", bs)
	}
}
