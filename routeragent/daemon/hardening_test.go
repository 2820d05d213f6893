package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/routeragent/state"
	"github.com/vmroute/vmroute/shared/wire"
)

// Catches a tampered state file's times restored as they are: a landing
// in 2099 would outrank every real landing, and a receipt in 2099 keep
// its cluster fresh forever.
func TestStateTimesPastTheClockAreClampedAtLoad(t *testing.T) {
	e := newEnv(t, "")
	store, err := state.Open(filepath.Join(e.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	vm := wire.VM{UUID: "v1", Name: "web-1", Site: "B", PowerState: wire.PoweredOn, LandedAt: far,
		NICs: []wire.NIC{{MAC: wire.MAC{0, 0x50, 0x56, 0, 0, 1}, Addresses: nil}}}
	if err := store.Save(&intake.State{Cluster: "cl-b", Generation: 1, Received: far, VMs: map[string]wire.VM{"v1": vm},
		Gone: map[string]time.Time{"v2": far}}); err != nil {
		t.Fatal(err)
	}
	d := e.start(t)
	limit := time.Now().Add(2*time.Minute + time.Second)
	var st Status
	get(t, d, "/v1/status", &st)
	if len(st.Clusters) != 1 || st.Clusters[0].Received.After(limit) {
		t.Errorf("clusters %+v: want cl-b received no later than the clock plus the tolerance", st.Clusters)
	}
	var vms []VM
	get(t, d, "/v1/vms", &vms)
	if len(vms) != 1 || vms[0].LandedAt.After(limit) {
		t.Errorf("VMs %+v: want v1 landed no later than the clock plus the tolerance", vms)
	}
	if g := d.intake.States()[0].Gone["v2"]; g.After(limit) {
		t.Errorf("tombstone of v2 at %s", g)
	}
}

// Catches settings a reload ignored in silence: reports.future_tolerance
// and log.level; and log.format, which it cannot apply, refused.
func TestReloadAppliesEverySettingItCan(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	d.LogLevel = new(slog.LevelVar)
	ahead := strings.Replace(report("cl-b", "B", 1, "192.0.2.50"), "2026-11-22T10:00:00Z",
		time.Now().Add(5*time.Minute).UTC().Format(time.RFC3339), 1)
	b := e.client(t, "hostagent-b")
	if code, _ := post(t, b, d, ahead); code != http.StatusUnprocessableEntity {
		t.Fatalf("a landing 5 minutes ahead with the default tolerance: %d, want 422", code)
	}
	e.edit(t, func(c string) string {
		return strings.Replace(c, "batch_window = \"5ms\"\n", "batch_window = \"5ms\"\nfuture_tolerance = \"10m\"\n[log]\nlevel = \"debug\"\n", 1)
	})
	e.reload(t, d)
	if code, p := post(t, b, d, ahead); code != http.StatusOK {
		t.Errorf("after reports.future_tolerance = 10m: %d %s", code, p.Error)
	}
	if got := d.LogLevel.Level(); got != slog.LevelDebug {
		t.Errorf("log level %s after log.level = debug", got)
	}
	e.edit(t, func(c string) string {
		return strings.Replace(c, "level = \"debug\"\n", "level = \"debug\"\nformat = \"json\"\n", 1)
	})
	cfg, err := config.Load(e.confPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "log.format") {
		t.Errorf("a new log.format: %v, want refused as needing a restart", err)
	}
}

// Catches a dropped cluster's state file left in place: added back and
// restarted, the routeragent announced its routes of long ago again
// before any report.
func TestAClusterDroppedByAReloadIsNotRestoredLater(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	if code, p := post(t, e.client(t, "hostagent-b"), d, report("cl-b", "B", 1, "192.0.2.50")); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	waitRoutes(t, d, "B host 192.0.2.50/32")
	block := "[[clusters]]\nname = \"cl-b\"\nsite = \"B\"\nclients = [\"hostagent-b\"]\n"
	e.edit(t, func(c string) string { return strings.Replace(c, block, "", 1) })
	e.reload(t, d)
	if _, err := os.Stat(filepath.Join(e.dir, "state", "cl-b.json"+state.DroppedSuffix)); err != nil {
		t.Errorf("the dropped cluster's state is not set aside: %v", err)
	}
	e.edit(t, func(c string) string { return strings.Replace(c, "[[subnets]]", block+"[[subnets]]", 1) })
	e2 := *e
	restarted := e2.start(t)
	if got := allRoutes(t, restarted); strings.Contains(fmt.Sprint(got), "192.0.2.50") {
		t.Errorf("cl-b added back and restarted: %q, want nothing of its old report", got)
	}
}

// Catches data races on the configuration: reloads in a storm while the
// report API, the status listener and the metrics are read (run with
// -race, as make test does).
func TestReloadStormUnderLoad(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	cfgs := make([]*config.Config, 2)
	for i := range cfgs {
		e.edit(t, func(c string) string {
			return strings.Replace(c, "max_report_bytes = 8192", fmt.Sprintf("max_report_bytes = %d", 8192+i), 1)
		})
		cfg, err := config.Load(e.confPath)
		if err != nil {
			t.Fatal(err)
		}
		cfgs[i] = cfg
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b := e.client(t, "hostagent-b")
	op := e.client(t, "operator")
	for w := range 4 {
		wg.Go(func() {
			for gen := uint64(1); ctx.Err() == nil; gen++ {
				switch w {
				case 0:
					post(t, b, d, report("cl-b", "B", gen, "192.0.2.50"))
				case 1:
					for _, p := range []string{"/v1/status", "/v1/routes", "/metrics", "/v1/site", "/v1/vms"} {
						if resp, err := http.Get("http://" + d.statusAddr + p); err == nil {
							resp.Body.Close()
						}
					}
				default:
					if resp, err := op.Get("https://" + d.apiAddr + "/v1/status"); err == nil {
						resp.Body.Close()
					}
				}
			}
		})
	}
	for i := range 100 {
		if err := d.Reload(context.Background(), cfgs[i%2]); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	cancel()
	wg.Wait()
}

// Catches a reload that drops a takeover under way (issue 28): a change
// to [guards] made a new planner, whose empty takeovers withdrew at once
// the host routes that cover this site's VMs until the previous owner
// withdraws the subnet.
func TestAReloadKeepsATakeoverGoing(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	if code, p := post(t, e.client(t, "hostagent-b"), d, report("cl-b", "B", 1, "198.51.100.10")); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	waitRoutes(t, d, "B summary 198.51.100.0/24")
	two := `{"cluster": "cl-a", "generation": 1, "kind": "full", "vms": [
		{"uuid": "v3", "name": "web-3", "site": "A", "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00Z",
		 "nics": [{"mac": "00:50:56:00:00:03", "addresses": ["198.51.100.20"]}]},
		{"uuid": "v4", "name": "web-4", "site": "A", "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00Z",
		 "nics": [{"mac": "00:50:56:00:00:04", "addresses": ["198.51.100.21"]}]}]}`
	if code, p := post(t, e.client(t, "hostagent-a"), d, two); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	// Two VMs of B's subnet at A, one at B: A takes the subnet over, with
	// its VMs' host routes until B withdraws it.
	waitRoutes(t, d, "A host 198.51.100.20/32")
	e.edit(t, func(c string) string { return c + "[guards]\nhost_route_ceiling = 1000\n" })
	e.reload(t, d)
	if got := allRoutes(t, d); !strings.Contains(fmt.Sprint(got), "A host 198.51.100.20/32") {
		t.Errorf("after a reload that made a new planner: %q, want the takeover's host routes kept", got)
	}
}

// Catches a cluster refused for its clock shown nowhere but the log: its
// VMs' moves are ignored until someone fixes NTP.
func TestStatusNamesClustersRefusedForTheirClock(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	b := e.client(t, "hostagent-b")
	ahead := strings.Replace(report("cl-b", "B", 1, "192.0.2.50"), "2026-11-22T10:00:00Z",
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 1)
	if code, _ := post(t, b, d, ahead); code != http.StatusUnprocessableEntity {
		t.Fatalf("a landing an hour ahead: %d, want 422", code)
	}
	var st Status
	get(t, d, "/v1/status", &st)
	if len(st.ClockRefused) != 1 || st.ClockRefused[0].Cluster != "cl-b" || !strings.Contains(st.ClockRefused[0].Error, "ahead of this routeragent's clock") {
		t.Errorf("clock_refused %+v, want cl-b with why", st.ClockRefused)
	}
	if code, p := post(t, b, d, report("cl-b", "B", 2, "192.0.2.50")); code != http.StatusOK {
		t.Fatalf("an honest report: %d %s", code, p.Error)
	}
	st = Status{}
	get(t, d, "/v1/status", &st)
	if len(st.ClockRefused) != 0 {
		t.Errorf("clock_refused %+v after an accepted report, want none", st.ClockRefused)
	}
}
