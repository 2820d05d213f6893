package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// BenchmarkLandingLatency migrates one VM between the two clusters 100
// times. For each, it takes the time from the task's completion, by
// vCenter's clock, until the report showing the VM in its new cluster
// reaches the routeragent, and, in the same run, until govmomi's own
// property.Wait on another session sees runtime.host change, and a bare
// ContainerView watch like the hostagent's. Ours includes the lab's
// task poll (up to 5 ms) before it puts the VM on its new host's list,
// which vCenter does itself and vcsim does not.
func BenchmarkLandingLatency(b *testing.B) {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 2
	l := newLabModel(b, m)
	calls := vcsim.Install(m) // counts the hostagent's calls to vCenter
	l.start(b)
	ctx := context.Background()
	l.r.wait("reported", func() bool { _, c := l.r.vm(vmA); return c == "cl-a" })
	vm := l.vmObj(b, vmA)
	uuid := func() string { v, _ := l.r.vm(vmA); return v.UUID }()

	var mu sync.Mutex
	var want string // the cluster the VM is moving to
	reported := make(chan time.Time, 1)
	l.r.mu.Lock()
	l.r.accepted = func(rep *wire.Report) {
		mu.Lock()
		defer mu.Unlock()
		if rep.Cluster != want {
			return
		}
		for _, v := range rep.VMs {
			if v.UUID == uuid {
				select {
				case reported <- time.Now():
				default:
				}
			}
		}
	}
	l.r.mu.Unlock()

	// The raw watch: govmomi's property.Wait on its own session.
	raw, err := vim25.NewClient(ctx, soap.NewClient(l.url, true))
	if err != nil {
		b.Fatal(err)
	}
	if err := session.NewManager(raw).Login(ctx, l.url.User); err != nil {
		b.Fatal(err)
	}
	seen := make(chan time.Time, 1)
	// Both raw watches end before vcsim closes: a cancelled wait tells
	// vcsim so (CancelWaitForUpdates), and vcsim's Close waits for it.
	wctx, stop := context.WithCancel(ctx)
	var watches sync.WaitGroup
	defer func() { stop(); watches.Wait() }()
	first := true
	watches.Add(1)
	go func() {
		defer watches.Done()
		_ = property.Wait(wctx, property.DefaultCollector(raw), vm.Reference(), []string{"runtime.host"}, func([]types.PropertyChange) bool {
			if first {
				first = false
				return false
			}
			select {
			case seen <- time.Now():
			default:
			}
			return false
		})
	}()
	// The same kind of watch as the hostagent's, bare: a ContainerView of
	// VirtualMachine and WaitForUpdatesEx. vcsim answers it later than a
	// watch of the object itself.
	cv, err := view.NewManager(raw).CreateContainerView(ctx, raw.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		b.Fatal(err)
	}
	viewSeen := make(chan time.Time, 1)
	filter := new(property.WaitFilter)
	filter.Spec.ObjectSet = []types.ObjectSpec{{Obj: cv.Reference(), Skip: types.NewBool(true),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}}}}
	filter.Spec.PropSet = []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"runtime.host"}}}
	pc, err := property.DefaultCollector(raw).Create(ctx)
	if err != nil {
		b.Fatal(err)
	}
	viewFirst := true
	watches.Add(1)
	go func() {
		defer watches.Done()
		_ = property.WaitForUpdatesEx(wctx, pc, filter, func(updates []types.ObjectUpdate) bool {
			for _, u := range updates {
				if u.Obj == vm.Reference() && !viewFirst {
					select {
					case viewSeen <- time.Now():
					default:
					}
				}
			}
			viewFirst = false
			return false
		})
	}()
	time.Sleep(100 * time.Millisecond)

	var ours, rawLat, viewLat []time.Duration
	before := calls.CallsFrom(vcenter.UserAgent)
	moves := 0
	for b.Loop() {
		for i := range 100 {
			host, pool, cluster := hB0, rpB, "cl-b"
			if i%2 == 1 {
				host, pool, cluster = "/DC0/host/DC0_C0/DC0_C0_H0", rpA, "cl-a"
			}
			mu.Lock()
			want = cluster
			mu.Unlock()
			moves++
			done := l.relocateAt(b, vmA, host, pool)
			select {
			case t := <-reported:
				ours = append(ours, t.Sub(done))
			case <-time.After(10 * time.Second):
				b.Fatalf("migration %d: no report within 10s", i)
			}
			select {
			case t := <-seen:
				rawLat = append(rawLat, t.Sub(done))
			case <-time.After(10 * time.Second):
				b.Fatalf("migration %d: property.Wait saw nothing within 10s", i)
			}
			select {
			case t := <-viewSeen:
				viewLat = append(viewLat, t.Sub(done))
			case <-time.After(10 * time.Second):
				b.Fatalf("migration %d: the ContainerView watch saw nothing within 10s", i)
			}
		}
	}
	// The hostagent's calls to vCenter per migration, by method.
	after, total := calls.CallsFrom(vcenter.UserAgent), 0
	var per []string
	for _, method := range slices.Sorted(maps.Keys(after)) {
		if n := after[method] - before[method]; n > 0 {
			total += n
			per = append(per, fmt.Sprintf("%s %.2f", method, float64(n)/float64(moves)))
		}
	}
	b.Logf("the hostagent's calls to vCenter per migration: %s", strings.Join(per, ", "))
	b.ReportMetric(float64(total)/float64(moves), "vcenter-calls/move")
	slices.Sort(ours)
	slices.Sort(rawLat)
	slices.Sort(viewLat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	med, rawMed := ours[len(ours)/2], rawLat[len(rawLat)/2]
	b.ReportMetric(ms(med), "ours-median-ms")
	// A hundred moves per loop: their tail is a maximum, not a p99.
	b.ReportMetric(ms(ours[len(ours)-1]), "ours-max-ms")
	b.ReportMetric(ms(rawMed), "raw-median-ms")
	b.ReportMetric(ms(rawLat[len(rawLat)-1]), "raw-max-ms")
	b.ReportMetric(ms(viewLat[len(viewLat)/2]), "rawview-median-ms")
	b.ReportMetric(float64(med)/float64(rawMed+l.agent.cfg.Debounce), "ratio-to-raw+debounce")
	b.ReportMetric(float64(med)/float64(viewLat[len(viewLat)/2]+l.agent.cfg.Debounce), "ratio-to-rawview+debounce")
}
