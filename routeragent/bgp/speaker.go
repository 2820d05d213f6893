package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/vmroute/vmroute/routeragent/bgp/attrs"
	"github.com/vmroute/vmroute/routeragent/plan"
)

// HoldTime is the BGP hold time the speaker proposes: a peer that hears
// nothing for this long (GoBGP v3 has no BFD) ends the session.
const HoldTime = 90 * time.Second

// Speaker is an embedded GoBGP server that advertises the routes it is
// given and nothing else.
type Speaker struct {
	cfg Config
	log *slog.Logger
	srv *server.BgpServer
	gl  *gobgpLogger

	mu  sync.Mutex
	rib map[netip.Prefix]plan.Kind // what the peers are sent
	win bool                       // every route carries WinningMED
}

// Changes counts what one Apply sent.
type Changes struct {
	Announced, Withdrawn int
}

// New returns a speaker for cfg; Start runs it.
func New(cfg Config, log *slog.Logger) *Speaker {
	return &Speaker{cfg: cfg, log: log, rib: map[netip.Prefix]plan.Kind{}}
}

// Start starts the BGP server, puts routes into its table and then
// configures the neighbors, so that the first UPDATE each peer gets
// already holds them. restarting announces a graceful restart (the R bit):
// peers that kept our routes from before keep them until our End-of-RIB.
func (s *Speaker) Start(ctx context.Context, routes []plan.Route, restarting bool) error {
	s.gl = newGobgpLogger(s.log)
	s.srv = server.NewBgpServer(server.LoggerOption(s.gl))
	go s.srv.Serve()
	port := int32(s.cfg.ListenPort)
	if port == 0 {
		port = -1
	}
	global := &api.Global{Asn: s.cfg.ASN, RouterId: s.cfg.RouterID.String(), ListenPort: port}
	if s.cfg.ListenAddress.IsValid() {
		global.ListenAddresses = []string{s.cfg.ListenAddress.String()}
	}
	if err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		s.srv.Stop()
		return fmt.Errorf("start BGP (AS %d, router ID %s, port %d): %w", s.cfg.ASN, s.cfg.RouterID, s.cfg.ListenPort, err)
	}
	if err := s.exportOnly(ctx); err != nil {
		s.Stop(ctx)
		return err
	}
	if _, err := s.Apply(ctx, routes); err != nil {
		s.Stop(ctx)
		return err
	}
	for _, n := range s.cfg.Neighbors {
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.peer(n, restarting)}); err != nil {
			s.Stop(ctx)
			return fmt.Errorf("add neighbor %s: %w", n.Address, err)
		}
	}
	s.log.Info("bgp speaker started", "asn", s.cfg.ASN, "router_id", s.cfg.RouterID, "port", s.cfg.ListenPort,
		"neighbors", len(s.cfg.Neighbors), "routes", len(routes), "restarting", restarting)
	return nil
}

// exportOnly rejects every route a neighbor sends before it reaches the
// local RIB: the speaker never re-advertises them nor acts on them.
// Received routes stay in the neighbor's Adj-RIB-In for status.
func (s *Speaker) exportOnly(ctx context.Context) error {
	const set, policy = "vmroute-neighbors", "vmroute-export-only"
	if err := s.srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{
		DefinedType: api.DefinedType_NEIGHBOR, Name: set, List: []string{"0.0.0.0/0", "::/0"},
	}}); err != nil {
		return fmt.Errorf("export-only policy: %w", err)
	}
	if err := s.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: policy, Statements: []*api.Statement{{
		Name:       "reject-received",
		Conditions: &api.Conditions{NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: set}},
		Actions:    &api.Actions{RouteAction: api.RouteAction_REJECT},
	}}}}); err != nil {
		return fmt.Errorf("export-only policy: %w", err)
	}
	if err := s.srv.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_IMPORT, DefaultAction: api.RouteAction_ACCEPT,
		Policies: []*api.Policy{{Name: policy}},
	}}); err != nil {
		return fmt.Errorf("export-only policy: %w", err)
	}
	return nil
}

func (s *Speaker) peer(n Neighbor, restarting bool) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Address.String(), PeerAsn: n.ASN, AuthPassword: n.Password},
		Transport: &api.Transport{
			PassiveMode: n.Passive,
			RemotePort:  uint32(n.Port),
		},
		Timers: &api.Timers{Config: &api.TimersConfig{ConnectRetry: 5, HoldTime: uint64(HoldTime.Seconds()), KeepaliveInterval: uint64(HoldTime.Seconds()) / 3}},
	}
	if n.LocalAddress.IsValid() {
		p.Transport.LocalAddress = n.LocalAddress.String()
	}
	if n.MultihopTTL > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.MultihopTTL)}
	}
	if s.cfg.GracefulRestart {
		p.GracefulRestart = &api.GracefulRestart{
			Enabled:         true,
			RestartTime:     uint32(s.cfg.RestartTime.Seconds()),
			DeferralTime:    30,
			LocalRestarting: restarting,
		}
		p.GracefulRestart.LonglivedEnabled = s.cfg.LongLivedStaleTime > 0
	}
	for _, fam := range []struct {
		on  bool
		afi api.Family_Afi
	}{{n.IPv4, api.Family_AFI_IP}, {n.IPv6, api.Family_AFI_IP6}} {
		if !fam.on {
			continue
		}
		as := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: fam.afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true}}
		if s.cfg.GracefulRestart {
			as.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
			if s.cfg.LongLivedStaleTime > 0 {
				as.LongLivedGracefulRestart = &api.LongLivedGracefulRestart{Config: &api.LongLivedGracefulRestartConfig{
					Enabled: true, RestartTime: uint32(s.cfg.LongLivedStaleTime.Seconds())}}
			}
		}
		p.AfiSafis = append(p.AfiSafis, as)
	}
	return p
}

// Apply converges the advertised routes to routes with the fewest
// changes: it withdraws what is gone, announces what is new or changed
// kind, and leaves the rest alone. A route of another site or outside
// both families is an error and changes nothing.
func (s *Speaker) Apply(ctx context.Context, routes []plan.Route) (Changes, error) {
	want := make(map[netip.Prefix]plan.Kind, len(routes))
	for _, r := range routes {
		if !r.Prefix.IsValid() || r.Prefix.Masked() != r.Prefix {
			return Changes{}, fmt.Errorf("route %s: not a canonical prefix", r.Prefix)
		}
		if r.Kind != plan.Host && r.Kind != plan.Summary && r.Kind != plan.Half {
			return Changes{}, fmt.Errorf("route %s: unknown kind %v", r.Prefix, r.Kind)
		}
		want[r.Prefix] = r.Kind
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ch Changes
	var errs []error
	for p, kind := range s.rib {
		if k, ok := want[p]; ok && k == kind {
			continue
		}
		// By path, not by UUID: GoBGP finds a UUID by scanning its whole
		// table, which makes a mass withdraw quadratic.
		if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: attrs.Family(p), Path: s.path(p, kind)}); err != nil {
			errs = append(errs, fmt.Errorf("withdraw %s: %w", p, err))
			continue
		}
		delete(s.rib, p)
		ch.Withdrawn++
	}
	for p, k := range want {
		if _, ok := s.rib[p]; ok {
			continue
		}
		if _, err := s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: s.path(p, k)}); err != nil {
			errs = append(errs, fmt.Errorf("announce %s: %w", p, err))
			continue
		}
		s.rib[p] = k
		ch.Announced++
	}
	return ch, errors.Join(errs...)
}

// Advertised returns the routes the speaker holds for its peers.
func (s *Speaker) Advertised() []plan.Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]plan.Route, 0, len(s.rib))
	for p, k := range s.rib {
		out = append(out, plan.Route{Prefix: p, Kind: k})
	}
	return out
}

// Stop ends the speaker. With WithdrawOnStop it closes every session with
// a Cease, and the peers drop our routes; otherwise it leaves the sessions
// to the process's exit, without a NOTIFICATION, and peers that support
// graceful restart keep the routes until we are back or RestartTime ends.
func (s *Speaker) Stop(ctx context.Context) {
	if s.srv == nil {
		return
	}
	if s.cfg.WithdrawOnStop {
		// Each peer first, which closes its session with a Cease, and then
		// wait until its goroutines have ended: GoBGP's StopBgp rewrites
		// the global settings that established sessions still read (a
		// data race), and its own deletion of the peers does not wait.
		s.mu.Lock()
		neighbors := s.cfg.Neighbors
		s.mu.Unlock()
		freed := map[string]int{}
		for _, n := range neighbors {
			addr := n.Address.String()
			freed[addr] = s.gl.freedCount(addr)
			if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr}); err != nil {
				s.log.Warn("bgp stop", "peer", n.Address, "err", err)
				delete(freed, addr)
			}
		}
		for deadline := time.Now().Add(5 * time.Second); len(freed) > 0; time.Sleep(5 * time.Millisecond) {
			for addr, n := range freed {
				if s.gl.freedCount(addr) > n {
					delete(freed, addr)
				}
			}
			if time.Now().After(deadline) {
				s.log.Warn("bgp stop: sessions still closing after 5s", "peers", len(freed))
				break
			}
		}
		if err := s.srv.StopBgp(ctx, &api.StopBgpRequest{}); err != nil {
			s.log.Warn("bgp stop", "err", err)
		}
		s.log.Info("bgp sessions closed with a Cease; peers withdraw our routes")
	} else {
		s.log.Info("bgp sessions left to the process's exit: peers keep our routes for the graceful restart", "restart_time", s.cfg.RestartTime)
	}
}

// Reconfigure applies a new configuration without touching what did not
// change: only added, removed or changed neighbors are (re)configured, so
// other sessions stay up; changed communities, local preference, MED or
// next hops re-send every route. A change of AS number, router ID or
// listener needs a restart and is refused, changing nothing.
func (s *Speaker) Reconfigure(ctx context.Context, cfg Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cfg
	if old.ASN != cfg.ASN || old.RouterID != cfg.RouterID || old.ListenAddress != cfg.ListenAddress || old.ListenPort != cfg.ListenPort {
		return errors.New("bgp: a new AS number, router ID or listener needs a restart")
	}
	grChanged := old.GracefulRestart != cfg.GracefulRestart || old.RestartTime != cfg.RestartTime || old.LongLivedStaleTime != cfg.LongLivedStaleTime
	s.cfg = cfg
	before := map[netip.Addr]Neighbor{}
	for _, n := range old.Neighbors {
		before[n.Address] = n
	}
	var errs []error
	for _, n := range cfg.Neighbors {
		o, had := before[n.Address]
		delete(before, n.Address)
		if had && !grChanged && reflect.DeepEqual(o, n) {
			continue
		}
		if had {
			if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: n.Address.String()}); err != nil {
				errs = append(errs, fmt.Errorf("reconfigure neighbor %s: %w", n.Address, err))
				continue
			}
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.peer(n, false)}); err != nil {
			errs = append(errs, fmt.Errorf("add neighbor %s: %w", n.Address, err))
			continue
		}
		s.log.Info("bgp neighbor configured", "peer", n.Address, "asn", n.ASN, "changed", had)
	}
	for addr := range before {
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
			errs = append(errs, fmt.Errorf("remove neighbor %s: %w", addr, err))
			continue
		}
		s.log.Info("bgp neighbor removed", "peer", addr)
	}
	if !reflect.DeepEqual(old.HostCommunities, cfg.HostCommunities) || !reflect.DeepEqual(old.SummaryCommunities, cfg.SummaryCommunities) ||
		!reflect.DeepEqual(old.LocalPref, cfg.LocalPref) || !reflect.DeepEqual(old.MED, cfg.MED) ||
		old.NextHop4 != cfg.NextHop4 || old.NextHop6 != cfg.NextHop6 {
		errs = append(errs, s.resend(ctx))
		s.log.Info("bgp route attributes changed: routes sent again", "routes", len(s.rib))
	}
	return errors.Join(errs...)
}

// Win makes every route carry WinningMED while on, so that the edge
// routers prefer them over a lost sibling's, which they may still hold
// live (until its hold time) or stale (for its graceful restart); off,
// the routes carry the configured MED again. Each change sends every
// route again.
func (s *Speaker) Win(ctx context.Context, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.win == on {
		return nil
	}
	s.win = on
	return s.resend(ctx)
}

// resend sends every route again, with the attributes of now.
func (s *Speaker) resend(ctx context.Context) error {
	var errs []error
	for p, k := range s.rib {
		if _, err := s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: s.path(p, k)}); err != nil {
			errs = append(errs, fmt.Errorf("re-announce %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
