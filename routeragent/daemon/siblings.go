package daemon

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vmroute/vmroute/routeragent/bgp"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/sitecheck"
)

// siblings is this routeragent's view of the other routers of its site
// (a VRRP pair's other half, DESIGN.md rule 6): each is checked on the
// two paths, as another site's routers are, on a shorter bound, and is
// tracked on its own, by its API URL. While one is lost, for one linger
// at most, this router's routes win at the WAN over whatever the WAN
// still holds of the lost one.
type siblings struct {
	// mu also orders the changes of winning and the speaker's Win.
	mu      sync.Mutex
	tracker *liveness.Tracker
	winning bool
}

// startSiblings starts checking this site's other routers. Without
// siblings it does nothing.
func (d *Daemon) startSiblings(ctx context.Context) {
	lc := d.conf().Liveness
	if len(lc.Siblings.Routers) == 0 {
		return
	}
	routers := map[string][]string{}
	for _, r := range lc.Siblings.Routers {
		routers[r.API] = []string{r.API}
	}
	d.sibs.mu.Lock()
	d.sibs.tracker = liveness.NewTracker(routers, lc.SiblingLossAfter, time.Now())
	d.sibs.mu.Unlock()
	c := &sitecheck.Checker{Sites: []liveness.Site{lc.Siblings}, Interval: lc.SiblingInterval(),
		Client: &http.Client{Transport: &http.Transport{TLSClientConfig: d.tls.Client(), DisableKeepAlives: true}}}
	go c.Run(ctx, d.siblingResult)
}

// siblingResult takes one check of a sibling from the checker.
func (d *Daemon) siblingResult(r liveness.Result) {
	r.Site = r.Router // each sibling is tracked on its own
	now := time.Now()
	d.sibs.mu.Lock()
	trs := d.sibs.tracker.Record(r, now)
	d.sibs.mu.Unlock()
	d.siblingTransitions(trs, now)
}

// evaluateSiblings brings the siblings' states to now, every second: a
// sibling whose checks hang is lost on time, and the win ends on time.
func (d *Daemon) evaluateSiblings(now time.Time) {
	if d.sibling() == nil {
		return
	}
	d.sibs.mu.Lock()
	trs := d.sibs.tracker.Evaluate(now)
	d.sibs.mu.Unlock()
	d.siblingTransitions(trs, now)
}

func (d *Daemon) sibling() *liveness.Tracker {
	d.sibs.mu.Lock()
	defer d.sibs.mu.Unlock()
	return d.sibs.tracker
}

// siblingTransitions logs each change of a sibling's state, puts it in
// the move log, and makes this router's routes win, or stop winning.
func (d *Daemon) siblingTransitions(trs []liveness.Transition, now time.Time) {
	for _, tr := range trs {
		text := strings.Replace(tr.String(), "site ", "sibling ", 1)
		switch tr.To {
		case liveness.Lost:
			d.log.Warn("sibling lost: both paths fail", "sibling", tr.Site, "from", tr.From, "failing", tr.Failing)
		case liveness.Partitioned:
			d.log.Warn("sibling partitioned: one path fails; nothing changes", "sibling", tr.Site, "failing", tr.Failing)
		default:
			d.log.Info("sibling "+string(tr.To), "sibling", tr.Site, "from", tr.From)
		}
		d.moves.event(d.conf().Site, text, tr.At)
	}
	d.winOverLostSiblings(now)
}

// winOverLostSiblings makes every route of this router carry
// bgp.WinningMED while a sibling is lost, for one linger after its loss
// (its BGP hold time plus its graceful restart time: by then the WAN
// holds nothing of it, live or stale), and the configured MED otherwise.
// A sibling that answers again on both paths ends it at once: it
// forwards again.
func (d *Daemon) winOverLostSiblings(now time.Time) {
	linger := bgp.HoldTime + d.conf().BGP.RestartTime
	d.sibs.mu.Lock()
	defer d.sibs.mu.Unlock()
	if d.sibs.tracker == nil {
		return
	}
	win, lost := winOver(d.sibs.tracker.Status(now), linger, now)
	if win == d.sibs.winning {
		return
	}
	d.sibs.winning = win
	if err := d.speaker.Win(context.Background(), win); err != nil {
		d.log.Error("bgp: routes not all sent again", "err", err)
	}
	if win {
		d.log.Warn("winning over a lost sibling's routes at the WAN: every route with MED 0 for one linger", "sibling", lost, "linger", linger)
		d.moves.event(d.conf().Site, "winning at the WAN over lost sibling "+lost+" (MED 0)", now)
	} else {
		d.log.Info("no sibling lost within a linger: routes with the configured MED again")
		d.moves.event(d.conf().Site, "no longer winning at the WAN: routes with the configured MED", now)
	}
}

// winOver says whether a router must win over one of its siblings at
// now, and which: one lost less than linger ago. A partitioned sibling
// still forwards, and a returning one answers on both paths again.
func winOver(siblings []liveness.Status, linger time.Duration, now time.Time) (bool, string) {
	for _, s := range siblings {
		if s.State == liveness.Lost && now.Sub(s.LostAt) < linger {
			return true, s.Site
		}
	}
	return false, ""
}

// siblingStatus returns the siblings' liveness now, by API URL.
func (d *Daemon) siblingStatus(now time.Time) []liveness.Status {
	d.sibs.mu.Lock()
	defer d.sibs.mu.Unlock()
	if d.sibs.tracker == nil {
		return nil
	}
	return d.sibs.tracker.Status(now)
}

// winning says this router's routes win over a lost sibling's now.
func (d *Daemon) winning() bool {
	d.sibs.mu.Lock()
	defer d.sibs.mu.Unlock()
	return d.sibs.winning
}
