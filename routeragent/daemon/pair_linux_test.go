//go:build linux

package daemon

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/tests/bird"
	"github.com/vmroute/vmroute/tests/netns"
)

// pairVM is one VM of a report of the pair test.
type pairVM struct {
	uuid, addr string
	landed     time.Time
}

// pairReport is a full report of cluster at site with vms.
func pairReport(cluster, site string, gen int, vms ...pairVM) string {
	var parts []string
	for i, v := range vms {
		parts = append(parts, fmt.Sprintf(`{"uuid": %q, "name": %q, "site": %q, "power_state": "poweredOn", "landed_at": %q,
		 "nics": [{"mac": "00:50:56:00:%02x:%02x", "addresses": [%q]}]}`, v.uuid, v.uuid, site, v.landed.Format(time.RFC3339Nano), gen%256, i, v.addr))
	}
	return fmt.Sprintf(`{"cluster": %q, "generation": %d, "kind": "full", "vms": [%s]}`, cluster, gen, strings.Join(parts, ",\n"))
}

// TestIntegrationAPairPlansTheSame runs the two routers of site A, A1 and
// A2, each a daemon with its own BGP session to one BIRD, through a
// sequence of moves, with each router hearing the two clusters' reports in
// the other order (as two routers do, over two networks): after every
// step both send BIRD the same prefixes with the same attributes, next
// hop aside, and those are what each plans for site A. It catches a plan
// that depends on a router's own view: the order reports came in, its
// router ID, its start.
func TestIntegrationAPairPlansTheSame(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	peer := netns.Peer(t, "bird", "vr0", []string{"10.13.0.1/24", "10.13.0.3/24"}, "vb0", []string{"10.13.0.2/24"})
	b := bird.Start(t, peer, `router id 10.13.0.2;
protocol device {}
protocol bgp a1 {
	local 10.13.0.2 as 65000;
	neighbor 10.13.0.1 as 65001;
	ipv4 { import all; export none; };
}
protocol bgp a2 {
	local 10.13.0.2 as 65000;
	neighbor 10.13.0.3 as 65001;
	ipv4 { import all; export none; };
}
`)
	type router struct {
		name string
		e    *testEnv
		d    *Daemon
		stop func()
	}
	var pair []router
	for _, r := range []struct{ name, addr string }{{"a1", "10.13.0.1"}, {"a2", "10.13.0.3"}} {
		e := newEnv(t, fmt.Sprintf(`local_pref = 150
med = 100
summary_communities = ["65001:200"]
[[bgp.neighbors]]
address = "10.13.0.2"
asn = 65000
local_address = %q
families = ["ipv4"]
`, r.addr))
		e.edit(t, strings.NewReplacer(`router_id = "192.0.2.254"`, fmt.Sprintf("router_id = %q", r.addr)).Replace)
		d, stop := e.run(t)
		pair = append(pair, router{r.name, e, d, stop})
	}
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// Each step: the reports of cl-a (site A) and cl-b (site B). A1 hears
	// cl-a first, A2 cl-b first.
	steps := []struct {
		what     string
		cla, clb []pairVM
	}{
		{"a VM of B's subnet at A, one of A's at B",
			[]pairVM{{"v1", "198.51.100.10", at(0)}}, []pairVM{{"v2", "192.0.2.20", at(0)}}},
		{"a second VM of B's subnet comes to A",
			[]pairVM{{"v1", "198.51.100.10", at(0)}, {"v3", "198.51.100.11", at(1)}}, []pairVM{{"v2", "192.0.2.20", at(0)}}},
		{"v1 moves to B; cl-a's hostagent has not noticed: both claim it, the latest landing wins whatever came last",
			[]pairVM{{"v1", "198.51.100.10", at(0)}, {"v3", "198.51.100.11", at(1)}}, []pairVM{{"v2", "192.0.2.20", at(0)}, {"v1", "198.51.100.10", at(2)}}},
		{"cl-a lets v1 go",
			[]pairVM{{"v3", "198.51.100.11", at(1)}}, []pairVM{{"v2", "192.0.2.20", at(0)}, {"v1", "198.51.100.10", at(2)}}},
		{"B's subnet's VMs are mostly at A: A announces the subnet",
			[]pairVM{{"v3", "198.51.100.11", at(1)}, {"v4", "198.51.100.12", at(3)}, {"v5", "198.51.100.13", at(3)}},
			[]pairVM{{"v2", "192.0.2.20", at(0)}, {"v1", "198.51.100.10", at(2)}}},
	}
	agree := func(gen int, what string) {
		t.Helper()
		// Both routers planned this step's reports, and their routes at
		// BIRD are what each plans for site A.
		var want []string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			planned := true
			for _, r := range pair {
				var st Status
				get(t, r.d, "/v1/status", &st)
				planned = planned && len(st.Clusters) == 2 && st.Clusters[0].Generation == uint64(gen) && st.Clusters[1].Generation == uint64(gen)
			}
			var r1, r2 Routes
			get(t, pair[0].d, "/v1/routes", &r1)
			get(t, pair[1].d, "/v1/routes", &r2)
			want = nil
			for _, rt := range r1.Desired {
				want = append(want, rt.Prefix.String())
			}
			slices.Sort(want)
			var want2 []string
			for _, rt := range r2.Desired {
				want2 = append(want2, rt.Prefix.String())
			}
			slices.Sort(want2)
			got1 := slices.Sorted(maps.Keys(bird.ParseRoutes(b.Cmd("show", "route", "protocol", "a1", "all"))))
			got2 := slices.Sorted(maps.Keys(bird.ParseRoutes(b.Cmd("show", "route", "protocol", "a2", "all"))))
			if planned && len(want) > 0 && slices.Equal(want, want2) && slices.Equal(got1, want) && slices.Equal(got2, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %d (%s): generation planned by both: %v; A1 plans %v and BIRD holds %v from it; A2 plans %v and BIRD holds %v; want the same",
					gen, what, planned, want, got1, want2, got2)
			}
		}
		t.Logf("step %d (%s): both announce %v", gen, what, want)
		routes := map[string]map[string]bird.Route{}
		for _, r := range pair {
			routes[r.name] = bird.ParseRoutes(b.Cmd("show", "route", "protocol", r.name, "all"))
		}
		for _, p := range want {
			a1, a2 := routes["a1"][p].Attrs, routes["a2"][p].Attrs
			for k, v := range a1 {
				if !strings.Contains(k, "next_hop") && a2[k] != v {
					t.Errorf("step %d (%s): %s %s is %q from A1, %q from A2", gen, what, p, k, v, a2[k])
				}
			}
			if len(a1) != len(a2) || a1["BGP.med"] != "100" || a1["BGP.as_path"] != "65001" {
				t.Errorf("step %d (%s): %s's attributes from A1 %v, from A2 %v; want the same, with MED 100 and AS path 65001", gen, what, p, a1, a2)
			}
		}
	}
	for i, st := range steps {
		gen := i + 1
		cla, clb := pairReport("cl-a", "A", gen, st.cla...), pairReport("cl-b", "B", gen, st.clb...)
		for j, r := range pair {
			order := []string{cla, clb}
			if j == 1 {
				order = []string{clb, cla}
			}
			for _, body := range order {
				client := r.e.client(t, "hostagent-a")
				if strings.Contains(body, `"cl-b"`) {
					client = r.e.client(t, "hostagent-b")
				}
				if code, p := post(t, client, r.d, body); code != http.StatusOK {
					t.Fatalf("step %d, %s: report: %d %s", gen, r.name, code, p.Error)
				}
			}
		}
		agree(gen, st.what)
		if gen == 2 {
			// A2 restarts: from its state alone, before any report,
			// it plans what A1 plans.
			pair[1].stop()
			pair[1].d, pair[1].stop = pair[1].e.run(t)
			agree(gen, "A2 restarted from its state")
		}
	}
}
