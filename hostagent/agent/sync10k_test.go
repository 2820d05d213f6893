package agent

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// BenchmarkSync10k serves the hostagent binary, through its real SOAP
// client, the bytes of a real vCenter's sync of 10,000 VMs on 500 hosts
// (tests/vcsim.Big: 17 devices and guest networking each, about 12 KB a
// VM), paged as the hostagent asks (vcenter.MaxObjectUpdates), in front
// of vcsim for every other call. It reports:
//   - the bytes, and the bare cost of them: govmomi decoding every answer
//     into ObjectUpdates and nothing else (the median of 3);
//   - the hostagent's time from the first byte until it asked for more
//     after the last answer (it applied them all), and until the test
//     routeragent held the full report; its CPU time and peak RSS;
//   - the same for a mass move of 2,000 VMs (one runtime.host change
//     each), until the routeragent holds them at the other site;
//   - a paged resync after the session expired: its time from the first
//     byte until applied, and its CPU; it must land nothing.
//
// Targets: sync-vs-bare at most 1.5, peak RSS at most 300 MiB, and
// resync-vs-sync at most 1.
func BenchmarkSync10k(b *testing.B) {
	const nHosts, nVMs, nMoves = 500, 10000, 2000
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 1, 0, 0
	l := newLabModel(b, m)
	big := vcsim.Big{Clusters: []types.ManagedObjectReference{l.obj(b, "/DC0/host/DC0_C0").Reference(), l.obj(b, "/DC0/host/DC0_C1").Reference()},
		Hosts: nHosts, VMs: nVMs}
	sync, err := big.Sync(vcenter.MaxObjectUpdates, nil)
	if err != nil {
		b.Fatal(err)
	}
	moves, moved, err := big.Move(nMoves, vcenter.MaxObjectUpdates)
	if err != nil {
		b.Fatal(err)
	}
	resync, err := big.Sync(vcenter.MaxObjectUpdates, moved)
	if err != nil {
		b.Fatal(err)
	}
	bare := bareDecode(b, sync)

	rp := vcsim.NewReplay(l.url)
	b.Cleanup(rp.Close)
	rp.SetSync(sync)
	l.via(b, rp.URL, rp.CertificatePEM())
	agent, log := runHostagent(b, l)
	pid := agent.Process.Pid
	done := func(n int) vcsim.Batch {
		for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if bs := rp.Batches(); len(bs) > n && !bs[n].Done.IsZero() {
				return bs[n]
			}
			if time.Now().After(deadline) {
				b.Fatalf("batch %d of answers not applied within 10 minutes (see %s)", n, log)
			}
		}
	}

	// The first sync.
	counts := l.r.counts
	first := done(0)
	cpu := cpuTime(b, pid)
	l.r.waitLong(b, 10*time.Minute, "the first full reports", func() bool { a, c := counts(); return a == nVMs/2 && c == nVMs/2 })
	reported := time.Now()
	_, peak := memory(b, pid)
	syncTime := first.Done.Sub(first.Start)

	// The mass move.
	cpu0 := cpuTime(b, pid)
	rp.Push(moves)
	move := done(1)
	l.r.waitLong(b, 10*time.Minute, "the moved VMs", func() bool { a, c := counts(); return a == nVMs/2-nMoves && c == nVMs/2+nMoves })
	moveReported := time.Now()
	moveCPU := cpuTime(b, pid) - cpu0

	// A paged resync: the session expires during the wait.
	landed := l.r.landedTimes()
	cpu0 = cpuTime(b, pid)
	rp.SetSync(resync)
	rp.Expire()
	again := done(2)
	resyncCPU := cpuTime(b, pid) - cpu0
	time.Sleep(time.Second) // the debounce and a report, if any were due
	if after := l.r.landedTimes(); !maps.Equal(after, landed) {
		b.Errorf("the resync changed the landings of %d VMs (%d VMs before it, %d after)", countChanged(landed, after), len(landed), len(after))
	}
	_, peak2 := memory(b, pid)

	b.ReportMetric(float64(first.Bytes)/1e6, "sync-MB")
	b.ReportMetric(bare.Seconds(), "bare-decode-s")
	b.ReportMetric(syncTime.Seconds(), "sync-s")
	b.ReportMetric(syncTime.Seconds()/bare.Seconds(), "sync-vs-bare")
	b.ReportMetric(reported.Sub(first.Start).Seconds(), "first-report-s")
	b.ReportMetric(cpu.Seconds(), "sync-cpu-s")
	b.ReportMetric(max(peak, peak2), "peak-rss-MiB")
	b.ReportMetric(float64(move.Bytes)/1e6, "move-MB")
	b.ReportMetric(move.Done.Sub(move.Start).Seconds(), "move-s")
	b.ReportMetric(moveReported.Sub(move.Start).Seconds(), "move-report-s")
	b.ReportMetric(moveCPU.Seconds(), "move-cpu-s")
	b.ReportMetric(again.Done.Sub(again.Start).Seconds(), "resync-s")
	b.ReportMetric(again.Done.Sub(again.Start).Seconds()/syncTime.Seconds(), "resync-vs-sync")
	b.ReportMetric(resyncCPU.Seconds(), "resync-cpu-s")
}

// bareDecode returns the median of 3 times govmomi took to decode every
// answer, and nothing else.
func bareDecode(b *testing.B, pages [][]byte) time.Duration {
	var runs []time.Duration
	for range 3 {
		start := time.Now()
		for _, p := range pages {
			if _, err := vcsim.Decode(p); err != nil {
				b.Fatal(err)
			}
		}
		runs = append(runs, time.Since(start))
	}
	slices.Sort(runs)
	return runs[1]
}

// countChanged counts the VMs of both maps whose landing differs.
func countChanged(a, b map[string]time.Time) int {
	n := 0
	for k, t := range a {
		if u, ok := b[k]; ok && !u.Equal(t) {
			n++
		}
	}
	return n
}
