package announce

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"

	"github.com/vmroute/vmroute/routeragent/announce/frames"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

// Announcer sends gateway announcements to the VMs at this site: a burst
// after each landing, then a refresh while the VM stays, all paced by one
// rate limit. One goroutine (Run) owns its state; the other methods send
// it requests. Work is queued, never dropped.
type Announcer struct {
	cfg  Config
	log  *slog.Logger
	open func(*net.Interface) (net.PacketConn, error)
	reqs chan func(time.Time)

	// Counters for metrics, safe to read from any goroutine.
	FramesSent   atomic.Uint64
	FramesFailed atomic.Uint64
	// RoundsSkipped counts announcements not sent: the gateway is not on
	// this router (a VRRP backup), or the interface is missing.
	RoundsSkipped atomic.Uint64
	// Problems is how many distinct reasons skip announcements now.
	Problems atomic.Int64
	// Sent, when set before Run, is told of every frame of a burst sent,
	// from Run's goroutine; it must not block.
	Sent func(vm string, at time.Time)

	// Owned by Run.
	jobs map[key]*job
	// problems are the reasons announcements are skipped, each logged
	// once when it appears and once when it goes: a VRRP backup holds
	// none of its gateways, and must not log every VM's every refresh.
	problems map[string]bool
	burst    jobQueue // burst rounds, served first
	refresh  jobQueue
	links    map[string]*link
	local    localAddrs
	next     time.Time // the pacer: no frame before this
}

// key names one announcement target: a VM's adapter on a subnet.
type key struct {
	vm     string
	mac    wire.MAC
	subnet netip.Prefix
}

type job struct {
	n        plan.Neighbor
	left     int // burst rounds still to send
	at       time.Time
	index    int // in its queue; -1 when in none
	queue    *jobQueue
	pending  [][]byte // frames of the round being sent
	sent     int
	lastSent time.Time
	problem  string
	// away says the last round found none of its gateways on this
	// router (a VRRP backup).
	away bool
}

type link struct {
	ifi  *net.Interface
	conn net.PacketConn
}

// New returns an announcer that sends on raw AF_PACKET sockets, which
// need CAP_NET_RAW.
func New(cfg Config, log *slog.Logger) *Announcer {
	return newAnnouncer(cfg, log, func(ifi *net.Interface) (net.PacketConn, error) {
		// Protocol 0: the socket sends and receives nothing.
		return packet.Listen(ifi, packet.Raw, 0, nil)
	})
}

func newAnnouncer(cfg Config, log *slog.Logger, open func(*net.Interface) (net.PacketConn, error)) *Announcer {
	return &Announcer{
		cfg: cfg, log: log, open: open,
		reqs:     make(chan func(time.Time)),
		jobs:     map[key]*job{},
		problems: map[string]bool{},
		links:    map[string]*link{},
	}
}

// Run serves until ctx ends, then closes its sockets.
func (a *Announcer) Run(ctx context.Context) error {
	defer a.closeLinks()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		wake := a.step(now)
		if !wake.IsZero() {
			timer.Reset(wake.Sub(now))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return nil
		case f := <-a.reqs:
			f(time.Now())
		case <-timer.C:
		}
	}
}

// do runs f in Run's goroutine and waits for it.
func (a *Announcer) do(ctx context.Context, f func(time.Time)) error {
	done := make(chan struct{})
	select {
	case a.reqs <- func(now time.Time) { f(now); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Update hands the announcer every target at this site (refreshed while
// present, dropped when gone) and those of VMs that just landed (a burst
// now).
func (a *Announcer) Update(ctx context.Context, all []plan.Neighbor, landed []*plan.Neighbor) error {
	return a.do(ctx, func(now time.Time) {
		seen := make(map[key]bool, len(all))
		for _, n := range all {
			k := keyOf(&n)
			seen[k] = true
			j := a.jobs[k]
			if j == nil {
				j = &job{index: -1}
				a.jobs[k] = j
				if a.cfg.Refresh > 0 {
					a.schedule(j, &a.refresh, now.Add(spread(k, a.cfg.Refresh)))
				}
			}
			j.n = n
		}
		for k, j := range a.jobs {
			if !seen[k] {
				a.unschedule(j)
				delete(a.jobs, k)
			}
		}
		for _, n := range landed {
			j := a.jobs[keyOf(n)]
			if j == nil {
				continue
			}
			j.left = a.cfg.Count
			j.pending = nil
			a.schedule(j, &a.burst, now)
		}
	})
}

// SetConfig replaces the configuration, as on a reload; scheduled work
// keeps its times.
func (a *Announcer) SetConfig(ctx context.Context, cfg Config) error {
	return a.do(ctx, func(time.Time) { a.cfg = cfg })
}

// spread places a target's first refresh somewhere in the refresh
// interval, the same place for the same target, so that refreshes do not
// come in waves.
func spread(k key, d time.Duration) time.Duration {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%s", k.vm, k.mac, k.subnet)
	return time.Duration(h.Sum64() % uint64(d))
}

func keyOf(n *plan.Neighbor) key { return key{vm: n.VM, mac: n.MAC, subnet: n.Subnet} }

// step sends what is due and returns when it next has work.
func (a *Announcer) step(now time.Time) time.Time {
	for {
		q := &a.burst
		if !q.due(now) {
			q = &a.refresh
		}
		if !q.due(now) {
			return earliest(a.burst.first(), a.refresh.first())
		}
		if now.Before(a.next) {
			return a.next
		}
		a.sendOne(q.peek(), now)
		now = time.Now()
	}
}

func earliest(ts ...time.Time) time.Time {
	var e time.Time
	for _, t := range ts {
		if !t.IsZero() && (e.IsZero() || t.Before(e)) {
			e = t
		}
	}
	return e
}

// sendOne sends the next frame of j's round, starting the round if need
// be, and reschedules j when the round is done.
func (a *Announcer) sendOne(j *job, now time.Time) {
	if j.pending == nil {
		frames, err := a.round(&j.n)
		if err != nil {
			a.skipped(j, err)
			a.endRound(j, now)
			return
		}
		if j.problem != "" && a.problems[j.problem] {
			delete(a.problems, j.problem)
			a.Problems.Store(int64(len(a.problems)))
			a.log.Info("gateway announcements go out again", "interface", j.n.Interface, "prefix", j.n.Subnet, "was", j.problem)
		}
		j.problem, j.away, j.pending = "", false, frames
	}
	frame := j.pending[0]
	j.pending = j.pending[1:]
	if err := a.write(j.n.Interface, frame); err != nil {
		a.FramesFailed.Add(1)
		j.problem = err.Error()
		a.log.Warn("gateway announcement failed", "vm", j.n.VM, "interface", j.n.Interface, "err", err)
	} else {
		a.FramesSent.Add(1)
		j.sent++
		j.lastSent = now
		if a.Sent != nil && j.queue == &a.burst {
			a.Sent(j.n.VM, now)
		}
	}
	a.pace(now)
	if len(j.pending) == 0 {
		a.endRound(j, now)
	}
}

// skipped records why j's round is not sent: shown in its status,
// counted, and logged when the reason first appears.
func (a *Announcer) skipped(j *job, err error) {
	var away *awayError
	j.problem, j.away = err.Error(), errors.As(err, &away)
	a.RoundsSkipped.Add(1)
	if a.problems[j.problem] {
		return
	}
	a.problems[j.problem] = true
	a.Problems.Store(int64(len(a.problems)))
	a.log.Warn("gateway announcements not sent until this changes", "interface", j.n.Interface, "prefix", j.n.Subnet, "err", err)
}

// ProblemList returns the reasons announcements are skipped now.
func (a *Announcer) ProblemList(ctx context.Context) ([]string, error) {
	var out []string
	err := a.do(ctx, func(time.Time) {
		for p := range a.problems {
			out = append(out, p)
		}
	})
	slices.Sort(out)
	return out, err
}

// pace moves the pacer one frame on. It is a token bucket that holds c =
// Rate/100 frames (at least one) and refills at Rate-c frames a second, so
// that no second ever sees more than Rate frames while a timer that wakes
// late can still catch up.
func (a *Announcer) pace(now time.Time) {
	c := max(1, a.cfg.Rate/100)
	gap, floor := time.Second/time.Duration(a.cfg.Rate), now
	if c > 1 {
		gap = time.Second / time.Duration(a.cfg.Rate-c)
		floor = now.Add(-time.Duration(c-1) * gap)
	}
	if a.next.Before(floor) {
		a.next = floor
	}
	a.next = a.next.Add(gap)
}

func (a *Announcer) endRound(j *job, now time.Time) {
	j.pending = nil
	if j.queue == &a.burst && j.left > 1 {
		j.left--
		a.schedule(j, &a.burst, now.Add(a.cfg.Interval))
		return
	}
	j.left = 0
	if a.cfg.Refresh > 0 {
		a.schedule(j, &a.refresh, now.Add(a.cfg.Refresh))
	} else {
		a.unschedule(j)
	}
}

// round builds the frames for one announcement of every gateway of n,
// skipping, and saying why, the gateways this router does not hold.
func (a *Announcer) round(n *plan.Neighbor) ([][]byte, error) {
	l, err := a.link(n.Interface)
	if err != nil {
		return nil, err
	}
	gwMAC := l.ifi.HardwareAddr
	if m, ok := a.cfg.GatewayMACs[n.Subnet]; ok {
		gwMAC = m.HardwareAddr()
	}
	var dst net.HardwareAddr
	if !a.cfg.Broadcast {
		dst = n.MAC.HardwareAddr()
	}
	var out [][]byte
	var missing []string
	for _, gw := range n.Gateways {
		if !a.local.has(gw) {
			missing = append(missing, gw.String())
			continue
		}
		var f []byte
		if gw.Is4() {
			f, err = frames.ARP(gw, gwMAC, dst)
		} else {
			f, err = frames.NA(gw, gwMAC, dst, firstV6(n.Addrs))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, &awayError{missing}
	}
	return out, nil
}

// awayError says none of a target's gateways is on this router.
type awayError struct{ gateways []string }

func (e *awayError) Error() string {
	return fmt.Sprintf("gateway %v is on no local interface (not the VRRP master?): nothing sent", e.gateways)
}

// AddressesChanged is told that this router's addresses changed: a VRRP
// failover may have made it the master of a gateway. Every target whose
// last round found its gateways away gets a burst at once, so that no VM
// of this site keeps the old master's MAC for longer than the failover
// itself, not until its next refresh.
func (a *Announcer) AddressesChanged(ctx context.Context) error {
	return a.do(ctx, func(now time.Time) {
		a.local.at = time.Time{}
		for _, j := range a.jobs {
			if j.away {
				j.left = a.cfg.Count
				j.pending = nil
				a.schedule(j, &a.burst, now)
			}
		}
	})
}

func firstV6(addrs []netip.Addr) netip.Addr {
	for _, a := range addrs {
		if a.Is6() {
			return a
		}
	}
	return netip.Addr{}
}

func (a *Announcer) link(name string) (*link, error) {
	if l := a.links[name]; l != nil {
		return l, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	conn, err := a.open(ifi)
	if err != nil {
		return nil, fmt.Errorf("raw socket on %s: %w", name, err)
	}
	l := &link{ifi: ifi, conn: conn}
	a.links[name] = l
	return l, nil
}

func (a *Announcer) write(name string, frame []byte) error {
	l := a.links[name]
	dst := net.HardwareAddr(frame[0:6])
	if _, err := l.conn.WriteTo(frame, &packet.Addr{HardwareAddr: dst}); err != nil {
		// The interface may be gone or replaced: open it again next time.
		l.conn.Close()
		delete(a.links, name)
		return fmt.Errorf("send on %s: %w", name, err)
	}
	return nil
}

func (a *Announcer) closeLinks() {
	for name, l := range a.links {
		l.conn.Close()
		delete(a.links, name)
	}
}

// Status is what the announcer did for one target.
type Status struct {
	VM        string       `json:"vm"`
	Name      string       `json:"name"`
	Subnet    netip.Prefix `json:"subnet"`
	Interface string       `json:"interface"`
	MAC       wire.MAC     `json:"mac"`
	Sent      int          `json:"sent"`
	LastSent  time.Time    `json:"last_sent,omitzero"`
	BurstLeft int          `json:"burst_left,omitempty"`
	Next      time.Time    `json:"next,omitzero"`
	Problem   string       `json:"problem,omitempty"`
}

// Status returns the state of every target, by VM.
func (a *Announcer) Status(ctx context.Context) ([]Status, error) {
	var out []Status
	err := a.do(ctx, func(time.Time) {
		for _, j := range a.jobs {
			out = append(out, Status{VM: j.n.VM, Name: j.n.Name, Subnet: j.n.Subnet, Interface: j.n.Interface, MAC: j.n.MAC,
				Sent: j.sent, LastSent: j.lastSent, BurstLeft: j.left, Next: j.at, Problem: j.problem})
		}
	})
	slices.SortFunc(out, func(a, b Status) int {
		if a.VM != b.VM {
			if a.VM < b.VM {
				return -1
			}
			return 1
		}
		return a.Subnet.Addr().Compare(b.Subnet.Addr())
	})
	return out, err
}

// localAddrs caches this host's addresses for a second: a gateway is
// announced only while it is here.
type localAddrs struct {
	at    time.Time
	addrs map[netip.Addr]bool
}

func (l *localAddrs) has(a netip.Addr) bool {
	if time.Since(l.at) > time.Second {
		l.addrs = map[netip.Addr]bool{}
		l.at = time.Now()
		ifaddrs, err := net.InterfaceAddrs()
		for _, ia := range ifaddrs {
			if p, e := netip.ParsePrefix(ia.String()); e == nil {
				l.addrs[p.Addr()] = true
			}
		}
		if err != nil {
			l.at = time.Time{}
		}
	}
	return l.addrs[a]
}

// jobQueue is a heap of jobs by time.
type jobQueue []*job

func (q jobQueue) Len() int           { return len(q) }
func (q jobQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q jobQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *jobQueue) Push(x any) {
	j := x.(*job)
	j.index = len(*q)
	*q = append(*q, j)
}
func (q *jobQueue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	j.index = -1
	return j
}

func (q jobQueue) due(now time.Time) bool { return len(q) > 0 && !q[0].at.After(now) }
func (q jobQueue) peek() *job             { return q[0] }
func (q jobQueue) first() time.Time {
	if len(q) == 0 {
		return time.Time{}
	}
	return q[0].at
}

func (a *Announcer) schedule(j *job, q *jobQueue, at time.Time) {
	if j.queue != q {
		a.unschedule(j)
	}
	j.at, j.queue = at, q
	if j.index >= 0 {
		heap.Fix(q, j.index)
	} else {
		heap.Push(q, j)
	}
}

func (a *Announcer) unschedule(j *job) {
	if j.queue != nil && j.index >= 0 {
		heap.Remove(j.queue, j.index)
	}
	j.queue, j.at = nil, time.Time{} // status shows no next round
}
