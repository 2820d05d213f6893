// Package sitecheck runs the liveness checks of the other sites (DESIGN.md
// rule 6): their routeragents' API over mutual TLS, and an ARP or ND probe
// of their routers on the stretched subnets. It hands each result to the
// liveness tracker, which is pure.
package sitecheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"

	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/shared/tlsutil"
)

// Checker checks the two paths to every router of every site every
// interval, all at once, each check with the whole interval, and hands
// each result to report.
type Checker struct {
	Sites    []liveness.Site
	Interval time.Duration
	// Client is the API client, with this routeragent's certificate.
	Client *http.Client
}

// Run checks until ctx ends. report is called from one goroutine per
// router and path.
func (c *Checker) Run(ctx context.Context, report func(liveness.Result)) {
	done := make(chan struct{})
	n := 0
	for _, s := range c.Sites {
		for _, rt := range s.Routers {
			for _, p := range []liveness.Path{liveness.PathAPI, liveness.PathProbe} {
				n++
				go func() {
					defer func() { done <- struct{}{} }()
					c.loop(ctx, s, rt, p, report)
				}()
			}
		}
	}
	for range n {
		<-done
	}
}

func (c *Checker) loop(ctx context.Context, s liveness.Site, rt liveness.Router, p liveness.Path, report func(liveness.Result)) {
	for {
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, c.Interval)
		r := liveness.Result{Site: s.Name, Router: rt.API, Path: p}
		var err error
		if p == liveness.PathAPI {
			r.Answer, err = c.ask(cctx, s, rt)
		} else {
			err = probe(cctx, rt)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.OK = err == nil
		if err != nil {
			r.Err = err.Error()
		}
		report(r)
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.Interval - time.Since(start)):
		}
	}
}

// ask reads the other routeragent's answer.
func (c *Checker) ask(ctx context.Context, s liveness.Site, rt liveness.Router) (*liveness.Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rt.API+liveness.SitePath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	names, err := tlsutil.Names(resp.TLS)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rt.API, err)
	}
	if !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(s.Peers, n) }) {
		return nil, fmt.Errorf("%s: the server's certificate names %v, none of site %s's routeragents %v: check liveness.sites[].peers", rt.API, names, s.Name, s.Peers)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var a liveness.Answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil {
		return nil, fmt.Errorf("answer: %w", err)
	}
	if a.Site != s.Name {
		return nil, fmt.Errorf("%s answers as site %q, not %q: check liveness.sites", rt.API, a.Site, s.Name)
	}
	return &a, nil
}

// probe resolves all of a router's addresses at once, each with the
// whole time of ctx, and returns at the first that answers: a silent
// IPv4 address takes no time from an IPv6 one. (The others end at ctx's
// deadline.)
func probe(ctx context.Context, rt liveness.Router) error {
	if len(rt.Probes) == 0 {
		return errors.New("no probe address configured")
	}
	results := make(chan error, len(rt.Probes))
	for _, p := range rt.Probes {
		go func() {
			if err := resolve(ctx, p); err != nil {
				results <- fmt.Errorf("%s on %s: %w", p.Addr, p.Interface, err)
				return
			}
			results <- nil
		}()
	}
	var errs []error
	for range rt.Probes {
		err := <-results
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// resolve asks for p's link-layer address with ARP or ND, until ctx ends.
func resolve(ctx context.Context, p liveness.Probe) error {
	ifi, err := net.InterfaceByName(p.Interface)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	if p.Addr.Is4() {
		cl, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := cl.SetDeadline(deadline); err != nil {
			return err
		}
		_, err = cl.Resolve(p.Addr)
		return err
	}
	conn, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return err
	}
	defer conn.Close()
	snm, err := ndp.SolicitedNodeMulticast(p.Addr)
	if err != nil {
		return err
	}
	ns := &ndp.NeighborSolicitation{TargetAddress: p.Addr,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr}}}
	if err := conn.WriteTo(ns, nil, snm); err != nil {
		return err
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	for {
		m, _, _, err := conn.ReadFrom()
		if err != nil {
			return err
		}
		if na, ok := m.(*ndp.NeighborAdvertisement); ok && na.TargetAddress == p.Addr {
			return nil
		}
	}
}
