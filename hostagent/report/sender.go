// Package report sends the watched clusters' state to every routeragent:
// a full report when a connection starts, then deltas, each routeragent
// on its own with its own retries, so that one that is down never delays
// the others. After an outage a routeragent gets the current state, never
// a replay of what it missed.
package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// Sender reports to one routeragent.
type Sender struct {
	url      string
	client   *http.Client
	log      *slog.Logger
	retryMin time.Duration
	retryMax time.Duration
	// Heartbeat, when not zero, sends an empty delta for every cluster
	// that sent nothing for this long, so that the routeragent knows the
	// quiet clusters' reports current (its lease) and, after it
	// restarted, hears from each of them.
	Heartbeat time.Duration
	// Beating, when set, says whether heartbeats may go: false withholds
	// them (the vCenter session has been down too long), so that the
	// routeragents see the cluster stale instead of fresh. Changes are
	// sent whatever it says.
	Beating func() bool

	mu     sync.Mutex
	latest map[string][]wire.VM // cluster -> its VMs
	seq    int                  // counts Offers
	notify chan struct{}
	stats  Stats

	// Owned by Run.
	acked  map[string]*acked // what the routeragent holds, by cluster
	gens   map[string]uint64
	base   uint64
	sentAt map[string]time.Time // the last report accepted, by cluster
}

type acked struct {
	gen uint64
	vms map[string]wire.VM
}

// Stats are one routeragent's counts, for status and metrics.
type Stats struct {
	URL       string    `json:"url"`
	Sent      int       `json:"sent"`
	Full      int       `json:"full"`
	Refused   int       `json:"refused"`
	Failed    int       `json:"failed"`
	LastSent  time.Time `json:"last_sent,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Beats counts the heartbeat rounds run; Withheld the heartbeats not
	// sent while Beating said no.
	Beats    int `json:"heartbeats,omitempty"`
	Withheld int `json:"heartbeats_withheld,omitempty"`
	// RetryIn is, while delivery fails, the wait before the next try.
	RetryIn time.Duration `json:"retry_in,omitempty"`
	// InSync is true when the routeragent holds the latest state; false
	// until there is a state to hold.
	InSync bool `json:"in_sync"`
}

// NewSender returns a sender to the routeragent at url (https://host:port).
func NewSender(url string, client *http.Client, retryMin, retryMax time.Duration, log *slog.Logger) *Sender {
	return &Sender{url: url + wire.ReportsPath, client: client, log: log.With("routeragent", url), retryMin: retryMin, retryMax: retryMax,
		notify: make(chan struct{}, 1), acked: map[string]*acked{}, gens: map[string]uint64{}, sentAt: map[string]time.Time{},
		base: uint64(time.Now().UnixNano()), stats: Stats{URL: url}}
}

// Offer hands the sender the newest state, each cluster's VMs; an older
// one not yet sent is dropped: only the current state matters.
func (s *Sender) Offer(clusters map[string][]wire.VM) {
	s.mu.Lock()
	s.latest = clusters
	s.seq++
	s.stats.InSync = false
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Stats returns the sender's counts.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Run sends until ctx ends, retrying with backoff after a failure.
func (s *Sender) Run(ctx context.Context) {
	backoff := s.retryMin
	var beat <-chan time.Time
	if s.Heartbeat > 0 {
		t := time.NewTicker(s.Heartbeat / 4)
		defer t.Stop()
		beat = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		case <-beat:
			s.mu.Lock()
			s.stats.Beats++
			s.mu.Unlock()
		}
		for {
			s.mu.Lock()
			latest, seq := s.latest, s.seq
			s.mu.Unlock()
			err := s.sync(ctx, latest)
			if ctx.Err() != nil {
				return // stopping: nothing to retry, nothing to report
			}
			if err == nil {
				backoff = s.retryMin
				s.mu.Lock()
				// In sync: the latest state is delivered, and there is one
				// (a beat before the first state delivers nothing).
				s.stats.InSync = s.seq == seq && seq > 0
				s.stats.RetryIn = 0
				s.mu.Unlock()
				break
			}
			s.mu.Lock()
			s.stats.Failed++
			s.stats.LastError = err.Error()
			s.stats.RetryIn = backoff
			s.mu.Unlock()
			s.log.Warn("report not delivered: retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, s.retryMax)
		}
	}
}

// sync brings every cluster at the routeragent up to the given state,
// the clusters that gained VMs first: a landing matters more than the
// departure it goes with, and the planner orders them by landing time,
// not by arrival.
func (s *Sender) sync(ctx context.Context, clusters map[string][]wire.VM) error {
	names := slices.Sorted(maps.Keys(clusters))
	gained := func(name string) bool {
		a := s.acked[name]
		return a == nil || slices.ContainsFunc(clusters[name], func(vm wire.VM) bool { _, ok := a.vms[vm.UUID]; return !ok })
	}
	slices.SortStableFunc(names, func(x, y string) int {
		gx, gy := gained(x), gained(y)
		if gx == gy {
			return 0
		}
		if gx {
			return -1
		}
		return 1
	})
	for _, name := range names {
		if err := s.syncCluster(ctx, name, clusters[name]); err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
	}
	return nil
}

func (s *Sender) syncCluster(ctx context.Context, name string, vms []wire.VM) error {
	for try := 0; try < 2; try++ {
		a := s.acked[name]
		r := &wire.Report{Cluster: name, Kind: wire.KindFull, VMs: vms}
		if r.VMs == nil {
			r.VMs = []wire.VM{}
		}
		if a != nil {
			r.Kind, r.Base, r.VMs = wire.KindDelta, a.gen, nil
			seen := make(map[string]bool, len(vms))
			for _, vm := range vms {
				seen[vm.UUID] = true
				if old, ok := a.vms[vm.UUID]; !ok || !reflect.DeepEqual(old, vm) {
					r.VMs = append(r.VMs, vm)
				}
			}
			for id := range a.vms {
				if !seen[id] {
					r.Removed = append(r.Removed, id)
				}
			}
			slices.Sort(r.Removed)
			quiet := s.Heartbeat == 0 || time.Since(s.sentAt[name]) < s.Heartbeat
			if len(r.VMs) == 0 && len(r.Removed) == 0 && !quiet && s.Beating != nil && !s.Beating() {
				s.mu.Lock()
				s.stats.Withheld++
				s.mu.Unlock()
				quiet = true
			}
			if len(r.VMs) == 0 && len(r.Removed) == 0 && quiet {
				return nil
			}
		}
		r.Generation = max(s.gens[name], s.base) + 1
		status, problem, err := s.post(ctx, r)
		if err != nil {
			return err
		}
		if status == http.StatusOK {
			s.gens[name] = r.Generation
			held := make(map[string]wire.VM, len(vms))
			for _, vm := range vms {
				held[vm.UUID] = vm
			}
			s.acked[name] = &acked{gen: r.Generation, vms: held}
			s.sentAt[name] = time.Now()
			s.mu.Lock()
			s.stats.Sent++
			s.stats.LastSent = time.Now()
			if r.Kind == wire.KindFull {
				s.stats.Full++
			}
			s.mu.Unlock()
			s.log.Debug("report delivered", "cluster", name, "kind", r.Kind, "generation", r.Generation, "vms", len(r.VMs), "removed", len(r.Removed))
			return nil
		}
		if status == http.StatusConflict && problem.Generation < wire.MaxGeneration {
			// The routeragent holds another generation: start again with
			// a full report above it.
			s.log.Info("routeragent wants a full report", "cluster", name, "held", problem.Generation, "err", problem.Error)
			delete(s.acked, name)
			s.gens[name] = max(r.Generation, problem.Generation)
			continue
		}
		s.mu.Lock()
		s.stats.Refused++
		s.mu.Unlock()
		if status == http.StatusConflict {
			// No report can go above it: the routeragent's state for the
			// cluster is broken (an older routeragent accepted it).
			return fmt.Errorf("the routeragent holds generation %d, beyond the limit of %d: remove its state file for the cluster and restart it", problem.Generation, uint64(wire.MaxGeneration))
		}
		if status == http.StatusNotFound {
			return fmt.Errorf("the routeragent has no %s (404): it speaks an older wire version than this hostagent; upgrade it", wire.ReportsPath)
		}
		return fmt.Errorf("refused with %d: %s", status, problem.Error)
	}
	return fmt.Errorf("the routeragent refuses even a full report")
}

func (s *Sender) post(ctx context.Context, r *wire.Report) (int, wire.Problem, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return 0, wire.Problem{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, wire.Problem{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wire.ClusterHeader, url.PathEscape(r.Cluster))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, wire.Problem{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var p wire.Problem
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(b, &p); err != nil || p.Error == "" {
			p.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(b))
		}
	}
	return resp.StatusCode, p, nil
}
