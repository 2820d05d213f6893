package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// PeerStatus is one neighbor's state for status and metrics.
type PeerStatus struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// State is the BGP FSM state: idle, connect, active, opensent,
	// openconfirm or established.
	State string `json:"state"`
	// Since is when the session came up, zero unless established.
	Since time.Time `json:"since,omitzero"`
	// Advertised, Received and Accepted count prefixes over all families.
	// Advertised is what the established session carries of ours: no
	// End-of-RIB marker, and none while the session is down.
	Advertised uint64 `json:"advertised"`
	Received   uint64 `json:"received"`
	Accepted   uint64 `json:"accepted"`
	// UpdatesSent counts the UPDATE messages sent to the neighbor.
	UpdatesSent uint64 `json:"updates_sent"`
	// Flaps counts how often the session went down.
	Flaps uint32 `json:"flaps"`
	// LLGR says the established session negotiated long-lived graceful
	// restart: the neighbor advertised the capability too.
	LLGR bool `json:"llgr"`
	// Why says, when the session is not established, what is known of why.
	Why string `json:"why,omitempty"`
}

// Peers returns the state of every configured neighbor.
func (s *Speaker) Peers(ctx context.Context) ([]PeerStatus, error) {
	var out []PeerStatus
	s.mu.Lock()
	neighbors := s.cfg.Neighbors
	v4, v6 := 0, 0
	for p := range s.rib {
		if p.Addr().Is4() {
			v4++
		} else {
			v6++
		}
	}
	s.mu.Unlock()
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		ps := PeerStatus{ASN: p.GetConf().GetPeerAsn()}
		ps.Address, _ = netip.ParseAddr(p.GetConf().GetNeighborAddress())
		st := p.GetState()
		ps.State = strings.ToLower(strings.TrimPrefix(st.GetSessionState().String(), "SESSION_STATE_"))
		ps.Flaps = st.GetFlops()
		ps.UpdatesSent = st.GetMessages().GetSent().GetUpdate()
		if up := p.GetTimers().GetState().GetUptime(); ps.State == "established" && up != nil {
			ps.Since = up.AsTime()
		}
		for _, c := range st.GetRemoteCap() {
			if ps.State == "established" && c.MessageIs(&api.LongLivedGracefulRestartCapability{}) {
				ps.LLGR = true
			}
		}
		for _, a := range p.GetAfiSafis() {
			ps.Received += a.GetState().GetReceived()
			ps.Accepted += a.GetState().GetAccepted()
		}
		for _, n := range neighbors {
			if n.Address == ps.Address && ps.State == "established" {
				if n.IPv4 {
					ps.Advertised += uint64(v4)
				}
				if n.IPv6 {
					ps.Advertised += uint64(v6)
				}
			}
		}
		if ps.State != "established" {
			ps.Why = s.why(p)
		}
		out = append(out, ps)
	})
	if err != nil {
		return nil, fmt.Errorf("list BGP peers: %w", err)
	}
	return out, nil
}

// md5Drops reads the kernel's TCP MD5 counters (/proc/net/netstat,
// TCPMD5NotFound, TCPMD5Unexpected, TCPMD5Failure): segments dropped for a
// missing, unexpected or wrong signature. Kernels 6.x count them rather
// than log them. It returns those above zero, or "".
func md5Drops() string {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	var out []string
	for i := 0; i+1 < len(lines); i++ {
		keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(keys) == 0 || keys[0] != "TcpExt:" || len(vals) != len(keys) {
			continue
		}
		for j, k := range keys {
			if strings.HasPrefix(k, "TCPMD5") && vals[j] != "0" {
				out = append(out, k+" "+vals[j])
			}
		}
	}
	return strings.Join(out, ", ")
}

// why explains a session that is not up, from GoBGP's last error for the
// peer and what the configuration makes likely.
func (s *Speaker) why(p *api.Peer) string {
	var parts []string
	if e := s.gl.lastError(p.GetConf().GetNeighborAddress()); e != "" {
		parts = append(parts, "last error: "+e)
	}
	s.mu.Lock()
	neighbors := s.cfg.Neighbors
	s.mu.Unlock()
	for _, n := range neighbors {
		if n.Address.String() != p.GetConf().GetNeighborAddress() {
			continue
		}
		if n.Password != "" {
			hint := "TCP MD5 is on: a password that differs on the two sides drops every segment silently, so the connection never completes"
			if c := md5Drops(); c != "" {
				hint += "; this router's kernel dropped segments for it: " + c
			}
			parts = append(parts, hint)
		}
		if n.Passive {
			parts = append(parts, "passive: waiting for the neighbor to connect")
		}
	}
	if len(parts) == 0 {
		return "no connection yet"
	}
	return strings.Join(parts, "; ")
}
