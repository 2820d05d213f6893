package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/inventory"
	"github.com/vmroute/vmroute/hostagent/report"
	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/tests/pki"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// BenchmarkScale fills vcsim with VMROUTE_SCALE_VMS VMs (half in each
// cluster, each with a NIC and an IPv6 address), starts the hostagent
// binary on them, and migrates VMROUTE_SCALE_MOVES of them from cluster A
// to cluster B at once, 32 tasks at a time. It reports how long vcsim took
// to run the tasks, the time until the test routeragent holds the final
// state (from the first task, and from the last task's completion), the
// reports the hostagent sent meanwhile, the CPU time the hostagent used
// for them, and its resident memory.
//
// The defaults are 1,000 VMs and 200 moves, not the 10,000 and 2,000 a
// large vCenter has: for every single change, vcsim's WaitForUpdatesEx
// collects every watched object again, deep-copying each through XML, so
// its time grows with changes times objects. 1,000 and 200 take about
// 40 s here; with 10,000 VMs vcsim does not finish the relocation tasks
// within the 30 s this test gives each. BenchmarkPipeline10k measures the
// hostagent's own part at the full size.
func BenchmarkScale(b *testing.B) {
	nVMs, nMoves := envInt(b, "VMROUTE_SCALE_VMS", 1000), envInt(b, "VMROUTE_SCALE_MOVES", 200)
	if nMoves > nVMs/2 {
		b.Fatalf("VMROUTE_SCALE_MOVES (%d) exceeds cluster A's %d VMs", nMoves, nVMs/2)
	}
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 0
	l := newLabModel(b, m)
	made := time.Now()
	l.populate(b, "DC0_C0", "scale-a", netip.MustParsePrefix("2001:db8:a::/64"), nVMs/2)
	l.populate(b, "DC0_C1", "scale-b", netip.MustParsePrefix("2001:db8:b::/64"), nVMs-nVMs/2)
	b.Logf("vcsim holds %d VMs, made in %s", nVMs, time.Since(made).Round(time.Second))

	agent, _ := runHostagent(b, l)
	counts := l.r.counts
	synced := time.Now()
	l.r.waitLong(b, 10*time.Minute, "the first full reports", func() bool {
		a, c := counts()
		return a == nVMs/2 && c == nVMs-nVMs/2
	})
	b.Logf("the routeragent holds all %d VMs %s after the hostagent started", nVMs, time.Since(synced).Round(time.Millisecond))

	host, pool := l.obj(b, hB0).Reference(), l.obj(b, rpB).Reference()
	vms, err := find.NewFinder(l.c, false).VirtualMachineList(context.Background(), "/DC0/vm/scale-a-*")
	if err != nil {
		b.Fatal(err)
	}
	l.r.mu.Lock()
	posts := l.r.posts
	l.r.mu.Unlock()
	start, cpu := time.Now(), cpuTime(b, agent.Process.Pid)
	parallel(b, vms[:nMoves], func(vm *object.VirtualMachine) error {
		task, err := vm.Relocate(context.Background(), types.VirtualMachineRelocateSpec{Host: &host, Pool: &pool}, types.VirtualMachineMovePriorityDefaultPriority)
		if err != nil {
			return err
		}
		if err := l.waitTask(task); err != nil {
			return err
		}
		vcsim.HostMoved(l.model, vm.Reference())
		return nil
	})
	tasks := time.Now()
	l.r.waitLong(b, 30*time.Minute, "the final state", func() bool {
		a, c := counts()
		return a == nVMs/2-nMoves && c == nVMs-nVMs/2+nMoves
	})
	final, cpu := time.Now(), cpuTime(b, agent.Process.Pid)-cpu
	l.r.mu.Lock()
	posts = l.r.posts - posts
	l.r.mu.Unlock()
	rss, peak := memory(b, agent.Process.Pid)
	b.ReportMetric(tasks.Sub(start).Seconds(), "vcsim-tasks-s")
	b.ReportMetric(final.Sub(start).Seconds(), "final-after-start-s")
	b.ReportMetric(final.Sub(tasks).Seconds(), "final-after-last-task-s")
	b.ReportMetric(float64(posts), "reports")
	b.ReportMetric(cpu.Seconds(), "hostagent-cpu-s")
	b.ReportMetric(rss, "hostagent-rss-MiB")
	b.ReportMetric(peak, "hostagent-peak-rss-MiB")
}

// populate creates n powered-on VMs in a cluster, each with one NIC and
// a guest address in subnet, 32 at a time.
func (l *lab) populate(b *testing.B, cluster, prefix string, subnet netip.Prefix, n int) {
	ctx := context.Background()
	f := find.NewFinder(l.c, false)
	folder, err := f.Folder(ctx, "/DC0/vm")
	if err != nil {
		b.Fatal(err)
	}
	pool, err := f.ResourcePool(ctx, "/DC0/host/"+cluster+"/Resources")
	if err != nil {
		b.Fatal(err)
	}
	network, err := f.Network(ctx, "/DC0/network/VM Network")
	if err != nil {
		b.Fatal(err)
	}
	backing, err := network.EthernetCardBackingInfo(ctx)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	parallel(b, names, func(name string) error {
		nic, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
		if err != nil {
			return err
		}
		spec := types.VirtualMachineConfigSpec{Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
			Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}}
		if spec.DeviceChange, err = (object.VirtualDeviceList{nic}).ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd); err != nil {
			return err
		}
		task, err := folder.CreateVM(ctx, spec, pool, nil)
		if err != nil {
			return err
		}
		res, err := l.taskResult(task)
		if err != nil {
			return err
		}
		vm := object.NewVirtualMachine(l.c, res.(types.ManagedObjectReference))
		if task, err = vm.PowerOn(ctx); err != nil {
			return err
		}
		if err := l.waitTask(task); err != nil {
			return err
		}
		var mvm mo.VirtualMachine
		if err := property.DefaultCollector(l.c).RetrieveOne(ctx, vm.Reference(), []string{"config.hardware.device"}, &mvm); err != nil {
			return err
		}
		var mac string
		for _, d := range mvm.Config.Hardware.Device {
			if e, ok := d.(types.BaseVirtualEthernetCard); ok {
				mac = e.GetVirtualEthernetCard().MacAddress
			}
		}
		i, _ := strconv.Atoi(name[len(prefix)+1:])
		a := subnet.Addr().As16()
		a[13], a[14], a[15] = byte(i>>16), byte(i>>8), byte(i+1)
		addr := netip.AddrFrom16(a)
		sctx := l.model.Service.Context
		sim := sctx.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
		sctx.WithLock(sim, func() {
			sctx.Update(sim, []types.PropertyChange{{Name: "guest.net", Val: []types.GuestNicInfo{{MacAddress: mac, Connected: true, IpAddress: []string{addr.String()}}}}})
		})
		return nil
	})
}

// parallel runs f on every item, 32 at a time, failing on the first error.
func parallel[T any](b *testing.B, items []T, f func(T) error) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, 1)
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(it); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// waitLong is wait with a deadline of d.
func (r *routeragent) waitLong(b *testing.B, d time.Duration, what string, cond func() bool) {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("routeragent: %s: not within %s", what, d)
		}
	}
}

// memory returns a process's resident and peak resident memory in MiB.
func memory(b *testing.B, pid int) (rss, peak float64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		var kb float64
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			_, _ = fmt.Sscan(v, &kb)
			rss = kb / 1024
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			_, _ = fmt.Sscan(v, &kb)
			peak = kb / 1024
		}
	}
	return rss, peak
}

// cpuTime returns the user and system CPU time a process has used.
func cpuTime(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the whole line, in clock ticks (100 Hz).
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// BenchmarkPipeline10k is the hostagent's own part of BenchmarkScale at
// full size, without vcsim: 10,000 VMs (half in each cluster) enter the
// inventory and reach the test routeragent in a full report; then 2,000
// of them move from cluster A to B, delivered as vCenter pages them (100
// object updates per WaitForUpdatesEx answer), each page applied,
// snapshotted and offered to the sender as the watcher and agent do. It
// reports the time from the first page to the routeragent holding the
// final state, from the last page to it, and the reports sent. "burst"
// applies the pages back to back, a best case; "paced" 50 ms apart, as a
// vCenter busy with an evacuation answers.
func BenchmarkPipeline10k(b *testing.B) {
	b.Run("burst", func(b *testing.B) { pipeline10k(b, 0) })
	b.Run("paced-50ms", func(b *testing.B) { pipeline10k(b, 50*time.Millisecond) })
}

func pipeline10k(b *testing.B, pace time.Duration) {
	const nVMs, nMoves, page = 10000, 2000, 100
	ca := pki.New(b)
	ca.Issue(b, "hostagent")
	r := newRouteragent(b, ca)
	tc, err := tlsutil.Load(tlsutil.Files{Cert: filepath.Join(ca.Dir, "hostagent.crt"), Key: filepath.Join(ca.Dir, "hostagent.key"), CA: ca.CAFile})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Client()}}
	clA, clB := ref("ClusterComputeResource", "c-a"), ref("ClusterComputeResource", "c-b")
	hA, hB := ref("HostSystem", "h-a"), ref("HostSystem", "h-b")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	counts := r.counts
	var took, tail []time.Duration
	var reports int
	for b.Loop() {
		b.StopTimer()
		inv := inventory.New(map[types.ManagedObjectReference]inventory.Cluster{
			clA: {Name: "cl-a", Sites: sitemap.Rule{By: sitemap.Cluster, Site: "A"}},
			clB: {Name: "cl-b", Sites: sitemap.Rule{By: sitemap.Cluster, Site: "B"}},
		}, inventory.Options{GuestGrace: 10 * time.Minute}, quiet)
		enter := []types.ObjectUpdate{
			{Obj: hA, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx-a"}, {Name: "parent", Val: clA}}},
			{Obj: hB, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx-b"}, {Name: "parent", Val: clB}}},
		}
		for i := range nVMs {
			host := hA
			if i >= nVMs/2 {
				host = hB
			}
			enter = append(enter, syntheticVM(i, host))
		}
		now := time.Now()
		inv.Apply(enter, now)
		inv.Prune()
		s := report.NewSender(r.srv.URL, client, 50*time.Millisecond, 200*time.Millisecond, quiet)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		offer := func() { s.Offer(inv.Snapshot()) }
		offer()
		r.waitLong(b, time.Minute, "the full reports", func() bool { a, c := counts(); return a == nVMs/2 && c == nVMs/2 })
		sent := s.Stats().Sent
		b.StartTimer()
		start := time.Now()
		var last time.Time
		for p := 0; p < nMoves; p += page {
			if p > 0 {
				time.Sleep(pace)
			}
			var moves []types.ObjectUpdate
			for i := p; i < p+page; i++ {
				moves = append(moves, types.ObjectUpdate{Obj: ref("VirtualMachine", fmt.Sprintf("vm-%d", i)), Kind: types.ObjectUpdateKindModify,
					ChangeSet: []types.PropertyChange{{Name: "runtime.host", Val: hB}}})
			}
			inv.Apply(moves, now.Add(time.Second))
			offer()
			last = time.Now()
		}
		r.waitLong(b, time.Minute, "the final state", func() bool { a, c := counts(); return a == nVMs/2-nMoves && c == nVMs/2+nMoves })
		took = append(took, time.Since(start))
		tail = append(tail, time.Since(last))
		b.StopTimer()
		reports += s.Stats().Sent - sent
		cancel()
		<-done
		b.StartTimer()
	}
	slices.Sort(took)
	slices.Sort(tail)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "final-state-ms")
	b.ReportMetric(float64(tail[len(tail)/2].Microseconds())/1000, "after-last-page-ms")
	b.ReportMetric(float64(reports)/float64(len(took)), "reports")
}

// syntheticVM is VM number i as vCenter first reports it: one NIC with
// its MAC, and an IPv6 guest address.
func syntheticVM(i int, host types.ManagedObjectReference) types.ObjectUpdate {
	mac := fmt.Sprintf("00:50:56:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)
	a := netip.MustParseAddr("2001:db8:a::").As16()
	a[13], a[14], a[15] = byte(i>>16), byte(i>>8), byte(i)
	return types.ObjectUpdate{Obj: ref("VirtualMachine", fmt.Sprintf("vm-%d", i)), Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{
		{Name: "config.instanceUuid", Val: fmt.Sprintf("502e0000-0000-0000-0000-%012d", i)},
		{Name: "name", Val: fmt.Sprintf("vm-%05d", i)},
		{Name: "runtime.host", Val: host},
		{Name: "runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOn},
		{Name: "config.hardware.device", Val: types.ArrayOfVirtualDevice{VirtualDevice: []types.BaseVirtualDevice{
			&types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{MacAddress: mac,
				VirtualDevice: types.VirtualDevice{Backing: &types.VirtualEthernetCardNetworkBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}}}}}},
		}}},
		{Name: "guest.net", Val: types.ArrayOfGuestNicInfo{GuestNicInfo: []types.GuestNicInfo{{MacAddress: mac, Connected: true, IpAddress: []string{netip.AddrFrom16(a).String()}}}}},
	}}
}

func ref(typ, v string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: typ, Value: v}
}

// runHostagent builds the hostagent binary and runs it on the lab's
// configuration, logging to hostagent.log in l.dir, whose path it
// returns. It is stopped gracefully when the benchmark ends: the
// hostagent cancels its wait, and vcsim's Close would wait forever for a
// killed one's.
func runHostagent(b *testing.B, l *lab) (*exec.Cmd, string) {
	b.Helper()
	bin := b.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/", "../../cmd/vmroute-hostagent").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(l.dir, "hostagent.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logf.Close() })
	agent := exec.Command(filepath.Join(bin, "vmroute-hostagent"), "--config", filepath.Join(l.dir, "hostagent.toml"))
	agent.Stdout, agent.Stderr = logf, logf
	if err := agent.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = agent.Process.Signal(syscall.SIGTERM); _ = agent.Wait() })
	return agent, logf.Name()
}
