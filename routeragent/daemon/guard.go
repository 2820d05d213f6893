package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"log/slog"

	"github.com/vmroute/vmroute/shared/tlsutil"
)

// The report API's bounds against slow, stalled and greedy clients.
const (
	// handshakeTimeout bounds a connection's TLS handshake and each
	// request's headers: a socket that says nothing holds its slot no
	// longer.
	handshakeTimeout = 3 * time.Second
	// bodyBudget bounds the report bodies read and decoded at once, in
	// bytes: a body takes its size (or the limit, when it does not say)
	// from it while it is read and decoded, and waits up to budgetWait.
	bodyBudget = 192 << 20
	budgetWait = 10 * time.Second
	// bigResponses bounds the large status answers (the location table,
	// the routes, the status) built and sent at once; the others wait up
	// to budgetWait.
	bigResponses = 4
)

// apiLimits are the report API's connection caps: 512 in all, of which
// at most 256 before the client's certificate is verified, 64 of those
// from one source address; the other 256 are kept for verified clients,
// 8 for each certificate. A flood of sockets that never authenticate
// cannot take the slots of the hostagents.
var apiLimits = connLimits{total: 512, unverified: 256, perSource: 64, perClient: 8}

// statusLimits are the status listener's: it serves the router's own
// operators (vmroutectl), on loopback, without TLS.
var statusLimits = connLimits{total: 32, unverified: 32, perSource: 32}

// budget is a weighted semaphore: what is taken waits until it fits.
type budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	free  int64
	total int64
}

func newBudget(total int64) *budget {
	b := &budget{free: total, total: total}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// take waits until n fits, or until ctx ends or wait passes; it returns
// whether n was taken.
func (b *budget) take(ctx context.Context, n int64, wait time.Duration) bool {
	n = min(n, b.total)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < n {
		if ctx.Err() != nil {
			return false
		}
		b.cond.Wait()
	}
	b.free -= n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.free += min(n, b.total)
	b.cond.Broadcast()
	b.mu.Unlock()
}

// connLimits are a listener's connection caps: in all; not yet verified
// (no client certificate verified yet), in all and from one source
// address; and by verified client certificate.
type connLimits struct {
	total, unverified, perSource, perClient int
}

// connGuard counts a listener's connections and closes those over its
// caps (http.Server.ConnState).
type connGuard struct {
	log    *slog.Logger
	limits connLimits
	mu     sync.Mutex
	conns  map[net.Conn]*connInfo
	total  int
	// unverified counts the connections without a verified certificate,
	// in all and by source address; byClient the verified ones.
	unverified int
	bySource   map[netip.Addr]int
	byClient   map[string]int
	// Refused counts connections closed over a cap.
	Refused atomic.Uint64
}

type connInfo struct {
	source netip.Addr
	client string // the verified certificate's first name; "" before
}

func newConnGuard(log *slog.Logger, limits connLimits) *connGuard {
	return &connGuard{log: log, limits: limits, conns: map[net.Conn]*connInfo{}, bySource: map[netip.Addr]int{}, byClient: map[string]int{}}
}

func (g *connGuard) state(c net.Conn, s http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch s {
	case http.StateNew:
		src := sourceOf(c)
		if g.total >= g.limits.total || g.unverified >= g.limits.unverified || g.bySource[src] >= g.limits.perSource {
			g.Refused.Add(1)
			_ = c.Close()
			return
		}
		g.conns[c] = &connInfo{source: src}
		g.total++
		g.unverified++
		g.bySource[src]++
	case http.StateActive:
		info := g.conns[c]
		if info == nil || info.client != "" {
			return
		}
		tc, ok := c.(*tls.Conn)
		if !ok {
			return
		}
		st := tc.ConnectionState()
		names, err := tlsutil.Names(&st)
		if err != nil || len(names) == 0 {
			return
		}
		g.unverify(info)
		info.client = names[0]
		g.byClient[info.client]++
		if g.byClient[info.client] > g.limits.perClient {
			g.Refused.Add(1)
			_ = c.Close()
		}
	case http.StateClosed, http.StateHijacked:
		info := g.conns[c]
		if info == nil {
			return // refused at StateNew
		}
		delete(g.conns, c)
		g.total--
		if info.client == "" {
			g.unverify(info)
		} else if g.byClient[info.client]--; g.byClient[info.client] <= 0 {
			delete(g.byClient, info.client)
		}
	}
}

// unverify takes a connection out of the unverified counts.
func (g *connGuard) unverify(info *connInfo) {
	g.unverified--
	if g.bySource[info.source]--; g.bySource[info.source] <= 0 {
		delete(g.bySource, info.source)
	}
}

// sourceOf returns a connection's remote address.
func sourceOf(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// handshakeLog is the report API's error log: failed TLS handshakes (a
// flood of them, when a scanner or a misconfigured client calls) are
// counted, and logged at most once per interval with how many there were.
type handshakeLog struct {
	log      *slog.Logger
	interval time.Duration
	Failures atomic.Uint64

	mu    sync.Mutex
	last  time.Time
	quiet uint64 // failures not logged since last
}

func (h *handshakeLog) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	if !bytes.Contains(p, []byte("TLS handshake error")) {
		h.log.Warn("report API", "err", msg)
		return len(p), nil
	}
	h.Failures.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); now.Sub(h.last) >= h.interval {
		h.log.Warn("TLS handshakes failing", "err", msg, "more_since_last", h.quiet)
		h.last, h.quiet = now, 0
		return len(p), nil
	}
	h.quiet++
	return len(p), nil
}
