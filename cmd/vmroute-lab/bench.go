package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// benchMoves is how many times the convergence benchmark moves web-1.
const benchMoves = 50

// move is one timed move of web-1.
type move struct {
	To         string  `json:"to"`
	GatewayMs  float64 `json:"gateway_ms"`   // until web-1's gateway entry holds the new site's router MAC
	WANRouteMs float64 `json:"wan_route_ms"` // until the WAN router shows the /32 at B, or no /32 back at A
}

// bench moves web-1 between the sites benchMoves times and times each
// move from the migration's completion; it writes bench-results/ in the
// directory it was started from.
func (l *lab) bench(ctx context.Context) error {
	if _, ok := l.waitFor("BGP sessions and the first reports", 30*time.Second, func() bool {
		return site(l.birdRoutes()[subnet]) == "A"
	}); !ok {
		return fmt.Errorf("the lab did not come up; logs in %s", l.dir)
	}
	l.say("timing %d moves of web-1 between the sites", benchMoves)
	var moves []move
	for i := range benchMoves {
		to, bridge, host, pool, mac := "B", "br-b", "/DC0/host/DC0_C1/DC0_C1_H0", "/DC0/host/DC0_C1/Resources", macB
		if i%2 == 1 {
			to, bridge, host, pool, mac = "A", "br-a", "/DC0/host/DC0_C0/DC0_C0_H0", "/DC0/host/DC0_C0/Resources", macA
		}
		if err := l.moveWeb1(bridge, host, pool); err != nil {
			return err
		}
		done := time.Now()
		var gw, wan time.Duration
		l.waitFor(fmt.Sprintf("move %d to %s", i+1, to), 5*time.Second, func() bool {
			if gw == 0 && gatewayMAC() == mac {
				gw = time.Since(done)
			}
			if wan == 0 {
				_, host := l.birdRoutes()[web1+"/32"]
				if host == (to == "B") {
					wan = time.Since(done)
				}
			}
			return gw > 0 && wan > 0
		})
		if gw == 0 || wan == 0 {
			return fmt.Errorf("move %d to %s did not converge within 5 s; logs in %s", i+1, to, l.dir)
		}
		moves = append(moves, move{To: to, GatewayMs: ms(gw), WANRouteMs: ms(wan)})
		select {
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
	gwMed, gwP99 := quantiles(moves, func(m move) float64 { return m.GatewayMs })
	wanMed, wanP99 := quantiles(moves, func(m move) float64 { return m.WANRouteMs })
	fmt.Printf("\n%-42s %10s %10s\n", "from migration completed to", "median", "p99")
	fmt.Printf("%-42s %8.1f ms %7.1f ms\n", "web-1's gateway MAC changed", gwMed, gwP99)
	fmt.Printf("%-42s %8.1f ms %7.1f ms\n\n", "the WAN router showing the move (BGP)", wanMed, wanP99)

	l.say("site evacuation: %d VMs in %d subnets move from A to B, %d every %s", evacVMs, evacSubnets, evacBatch, evacEvery)
	ev, err := l.evacuate()
	if err != nil {
		return err
	}
	fmt.Printf("\n%-42s %8.2f s\n", "evacuation: until BIRD's final state", ev.FinalS)
	fmt.Printf("%-42s %8d (minimum %d)\n\n", "BGP updates and withdraws BIRD received", ev.BGPUpdates, ev.BGPMinimum)
	if err := os.MkdirAll("bench-results", 0o755); err != nil {
		return err
	}
	out := map[string]any{"moves": moves, "gateway_median_ms": gwMed, "gateway_p99_ms": gwP99,
		"wan_route_median_ms": wanMed, "wan_route_p99_ms": wanP99, "evacuation": ev, "when": time.Now().UTC()}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(filepath.Join("bench-results", "convergence.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join("bench-results", "convergence.svg"), []byte(plot(moves)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join("bench-results", "evacuation.svg"), []byte(plotEvacuation(ev)), 0o644); err != nil {
		return err
	}
	l.say("results in bench-results/: convergence.json, convergence.svg and evacuation.svg")
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func quantiles(moves []move, f func(move) float64) (median, p99 float64) {
	var v []float64
	for _, m := range moves {
		v = append(v, f(m))
	}
	slices.Sort(v)
	return v[len(v)/2], v[(len(v)*99)/100]
}

// plot draws both delays of every move as an SVG timeline.
func plot(moves []move) string {
	const w, h, pad = 720, 320, 40
	top := 1.0
	for _, m := range moves {
		top = max(top, m.GatewayMs, m.WANRouteMs)
	}
	x := func(i int) float64 { return pad + float64(i)*(w-2*pad)/float64(max(1, len(moves)-1)) }
	y := func(v float64) float64 { return h - pad - v*(h-2*pad)/top }
	line := func(f func(move) float64, color string) string {
		var pts []string
		for i, m := range moves {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(f(m))))
		}
		return fmt.Sprintf(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
<text x="%d" y="20">vmroute: from migration completed, per move of web-1 (ms)</text>
<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>
<text x="5" y="%d">%.0f</text><text x="5" y="%d">0</text><text x="%d" y="%d">move</text>
%s
%s
<text x="%d" y="%d" fill="#1f77b4">gateway MAC changed</text><text x="%d" y="%d" fill="#d62728">WAN router shows the move</text>
</svg>
`, w, h, pad, pad, h-pad, w-pad, h-pad, pad, pad, pad, h-pad, pad+4, top, h-pad, w-pad-30, h-pad+16,
		line(func(m move) float64 { return m.GatewayMs }, "#1f77b4"), line(func(m move) float64 { return m.WANRouteMs }, "#d62728"),
		w-220, h-pad-24, w-220, h-pad-8)
}
