package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/wire"
)

// The site evacuation: evacVMs VMs in evacSubnets subnets, all homed at
// site A, move to site B in batches of evacBatch, one batch every
// evacEvery, in an order that spreads every batch over all subnets (the
// hardest case: each subnet is complete at B only near the end).
//
// A stand-in hostagent reports them, with the hostagent's wire format and
// a client certificate of its own: vcsim's WaitForUpdatesEx collects every
// watched object again for every change, so 2,000 migrations in vcsim take
// hours (see BenchmarkScale in hostagent/agent).
const (
	evacVMs     = 2000
	evacSubnets = 8
	evacBatch   = 100
	evacEvery   = 50 * time.Millisecond
	evacClient  = "evac-hostagent"
)

// evacSubnet returns the i-th evacuation subnet: 10.51.0.0/24 onwards.
func evacSubnet(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(51 + i), 0, 0}), 24)
}

// evacConfig is the routeragents' configuration for the evacuation: its
// subnets, homed at A, and one cluster per site.
func evacConfig() string {
	var b strings.Builder
	for i := range evacSubnets {
		p := evacSubnet(i)
		gw := p.Addr().Next()
		fmt.Fprintf(&b, "[[subnets]]\nprefix = %q\nhome = \"A\"\ninterface = \"lan0\"\ngateways = [%q]\n", p, gw)
	}
	fmt.Fprintf(&b, "[[clusters]]\nname = \"evac-a\"\nsite = \"A\"\nclients = [%q]\n", evacClient)
	fmt.Fprintf(&b, "[[clusters]]\nname = \"evac-b\"\nsite = \"B\"\nclients = [%q]\n", evacClient)
	return b.String()
}

// evacVM is VM number i: in subnet i % evacSubnets.
func evacVM(i int, landed time.Time) wire.VM {
	p := evacSubnet(i % evacSubnets)
	a := p.Addr().As4()
	a[3] = byte(2 + i/evacSubnets)
	mac, _ := wire.ParseMAC(fmt.Sprintf("00:50:56:aa:%02x:%02x", i>>8, i&0xff))
	return wire.VM{UUID: fmt.Sprintf("evac-%04d", i), Name: fmt.Sprintf("evac-%04d", i), Site: "A",
		PowerState: wire.PoweredOn, LandedAt: landed,
		NICs: []wire.NIC{{MAC: mac, Network: "VM Network", Addresses: []netip.Addr{netip.AddrFrom4(a)}}}}
}

// evacuation is the benchmark's result.
type evacuation struct {
	VMs        int     `json:"vms"`
	Subnets    int     `json:"subnets"`
	Batches    int     `json:"batches"`
	FinalS     float64 `json:"seconds_to_final_state"`
	BGPUpdates int     `json:"bgp_updates_received"`
	BGPMinimum int     `json:"bgp_updates_minimum"`
	// Timeline is BIRD's table, sampled every 25 ms from the first batch.
	Timeline []evacSample `json:"timeline"`
}

// evacSample is BIRD's table at one moment of the evacuation.
type evacSample struct {
	Ms         float64 `json:"ms"`
	HostRoutes int     `json:"host_routes"`    // /32s in the evacuation's subnets
	SummariesB int     `json:"summaries_at_b"` // of its subnets' summaries, those via site B
}

// evacuate runs the evacuation and measures it at BIRD: the time from the
// first batch's report until BIRD holds every subnet's summary via B and
// no host route in them, and the updates and withdraws BIRD received on
// both sessions meanwhile, against the minimum: one summary announced by
// B and one withdrawn by A per subnet.
func (l *lab) evacuate() (evacuation, error) {
	tc, err := tlsutil.Load(tlsutil.Files{Cert: filepath.Join(l.dir, evacClient+".crt"), Key: filepath.Join(l.dir, evacClient+".key"),
		CA: filepath.Join(l.dir, "ca.crt")})
	if err != nil {
		return evacuation{}, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.Client()}}
	gen := uint64(time.Now().UnixNano())
	before := time.Now().Add(-time.Hour)
	movedAt := make([]time.Time, evacVMs) // zero while the VM is at A
	report := func() error {
		gen++
		var a, b []wire.VM
		for i := range evacVMs {
			if movedAt[i].IsZero() {
				a = append(a, evacVM(i, before))
			} else {
				vm := evacVM(i, movedAt[i])
				vm.Site = "B"
				b = append(b, vm)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for _, router := range []string{raMgmt, rbMgmt} {
			for _, r := range []wire.Report{{Cluster: "evac-a", Generation: gen, Kind: wire.KindFull, VMs: a},
				{Cluster: "evac-b", Generation: gen, Kind: wire.KindFull, VMs: b}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- post(client, "https://"+router+":8443"+wire.ReportsPath, r)
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	// table counts BIRD's host routes in the evacuation's subnets and its
	// subnets' summaries via site at.
	table := func(at string) (hosts, summaries int) {
		routes := l.birdRoutes()
		for i := range evacSubnets {
			if site(routes[evacSubnet(i).String()]) == at {
				summaries++
			}
		}
		for p := range routes {
			if strings.HasSuffix(p, "/32") && strings.HasPrefix(p, "10.5") && !strings.HasPrefix(p, "10.50.") {
				hosts++
			}
		}
		return hosts, summaries
	}
	state := func(at string) bool {
		hosts, summaries := table(at)
		return hosts == 0 && summaries == evacSubnets
	}
	if err := report(); err != nil {
		return evacuation{}, err
	}
	if _, ok := l.waitFor("the evacuation's subnets via site A", 30*time.Second, func() bool { return state("A") }); !ok {
		return evacuation{}, fmt.Errorf("evacuation: BIRD does not hold the %d subnets via site A", evacSubnets)
	}
	received := func() int {
		return l.birdStat("site_a", "Import updates") + l.birdStat("site_a", "Import withdraws") +
			l.birdStat("site_b", "Import updates") + l.birdStat("site_b", "Import withdraws")
	}
	time.Sleep(time.Second) // let the counters settle
	start, count := time.Now(), received()
	var timeline []evacSample
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			hosts, summaries := table("B")
			timeline = append(timeline, evacSample{Ms: ms(time.Since(start)), HostRoutes: hosts, SummariesB: summaries})
			select {
			case <-sampling:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	batches := 0
	for first := 0; first < evacVMs; first += evacBatch {
		now := time.Now()
		for i := first; i < min(first+evacBatch, evacVMs); i++ {
			movedAt[i] = now
		}
		if err := report(); err != nil {
			return evacuation{}, err
		}
		batches++
		time.Sleep(time.Until(now.Add(evacEvery)))
	}
	if _, ok := l.waitFor("the evacuation's subnets via site B", time.Minute, func() bool { return state("B") }); !ok {
		return evacuation{}, fmt.Errorf("evacuation: BIRD does not end with the %d subnets via site B alone", evacSubnets)
	}
	final := time.Since(start)
	time.Sleep(250 * time.Millisecond)
	close(sampling)
	<-sampled
	time.Sleep(750 * time.Millisecond) // updates still on their way would count
	return evacuation{VMs: evacVMs, Subnets: evacSubnets, Batches: batches, FinalS: final.Seconds(),
		BGPUpdates: received() - count, BGPMinimum: 2 * evacSubnets, Timeline: timeline}, nil
}

// plotEvacuation draws BIRD's host routes and the summaries via B over
// the evacuation as an SVG timeline.
func plotEvacuation(ev evacuation) string {
	const w, h, pad = 720, 320, 40
	top, end := 1, 1.0
	for _, s := range ev.Timeline {
		top, end = max(top, s.HostRoutes), max(end, s.Ms)
	}
	x := func(ms float64) float64 { return pad + ms*(w-2*pad)/end }
	y := func(v, full float64) float64 { return h - pad - v*(h-2*pad)/full }
	var hosts, sums []string
	for _, s := range ev.Timeline {
		hosts = append(hosts, fmt.Sprintf("%.1f,%.1f", x(s.Ms), y(float64(s.HostRoutes), float64(top))))
		sums = append(sums, fmt.Sprintf("%.1f,%.1f", x(s.Ms), y(float64(s.SummariesB), evacSubnets)))
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
<text x="%d" y="20">vmroute: site evacuation of %d VMs in %d subnets, BIRD's table (%d batches of %d, every %s)</text>
<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>
<text x="5" y="%d">%d</text><text x="5" y="%d">0</text><text x="%d" y="%d">%.0f ms</text><text x="%d" y="%d">%d</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="%s"/>
<polyline fill="none" stroke="#d62728" stroke-width="2" points="%s"/>
<text x="%d" y="%d" fill="#1f77b4">host routes (left scale)</text><text x="%d" y="%d" fill="#d62728">summaries via B (right scale)</text>
</svg>
`, w, h, pad, ev.VMs, ev.Subnets, ev.Batches, evacBatch, evacEvery,
		pad, pad, pad, h-pad, pad, h-pad, w-pad, h-pad,
		pad+4, top, h-pad, w-pad-40, h-pad+16, end, w-pad+4, pad+4, evacSubnets,
		strings.Join(hosts, " "), strings.Join(sums, " "),
		pad+20, pad+20, pad+20, pad+36)
}

// post sends one report and fails unless the routeragent accepts it.
func post(c *http.Client, to string, r wire.Report) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wire.ClusterHeader, url.PathEscape(r.Cluster))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var p wire.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return fmt.Errorf("%s refused the %s report: %s %s", to, r.Cluster, resp.Status, p.Error)
	}
	return nil
}
