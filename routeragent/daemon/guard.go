package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"log/slog"

	"github.com/vmroute/vmroute/shared/tlsutil"
)

// The report API's bounds against slow, stalled and greedy clients.
const (
	// maxConns is the most connections the report API holds at once;
	// maxConnsPerClient the most one client certificate holds.
	maxConns          = 512
	maxConnsPerClient = 8
	// bodyBudget bounds the report bodies read and decoded at once, in
	// bytes: a body takes its size (or the limit, when it does not say)
	// from it while it is read and decoded, and waits up to budgetWait.
	bodyBudget = 192 << 20
	budgetWait = 10 * time.Second
	// bigResponses bounds the large status answers (the location table)
	// built at once; the others wait up to budgetWait.
	bigResponses = 4
)

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

// connGuard counts the API's connections, in all and by client
// certificate, and closes those over the caps (http.Server.ConnState).
type connGuard struct {
	log      *slog.Logger
	mu       sync.Mutex
	total    int
	byClient map[string]int
	client   map[net.Conn]string
	// Refused counts connections closed over a cap.
	Refused atomic.Uint64
}

func newConnGuard(log *slog.Logger) *connGuard {
	return &connGuard{log: log, byClient: map[string]int{}, client: map[net.Conn]string{}}
}

func (g *connGuard) state(c net.Conn, s http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch s {
	case http.StateNew:
		g.total++
		if g.total > maxConns {
			g.Refused.Add(1)
			_ = c.Close()
		}
	case http.StateActive:
		if _, counted := g.client[c]; counted {
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
		g.client[c] = names[0]
		g.byClient[names[0]]++
		if g.byClient[names[0]] > maxConnsPerClient {
			g.Refused.Add(1)
			_ = c.Close()
		}
	case http.StateClosed, http.StateHijacked:
		g.total--
		if name, ok := g.client[c]; ok {
			delete(g.client, c)
			if g.byClient[name]--; g.byClient[name] <= 0 {
				delete(g.byClient, name)
			}
		}
	}
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
