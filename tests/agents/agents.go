// Package agents runs vmroute's agents inside a test's own process, from
// configuration files, for tests that need real ones beside vcsim.
package agents

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/vmroute/vmroute/hostagent/agent"
	hostconfig "github.com/vmroute/vmroute/hostagent/config"
	routerconfig "github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/routeragent/daemon"
)

// Routeragent runs a routeragent from the configuration at path until
// ctx ends or the test does, and returns it once it is ready.
func Routeragent(ctx context.Context, t testing.TB, path string) *daemon.Daemon {
	t.Helper()
	cfg, err := routerconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	run(ctx, t, "routeragent", d.Run)
	return d
}

// Hostagent runs a hostagent from the configuration at path until ctx
// ends or the test does, and returns it once it is ready.
func Hostagent(ctx context.Context, t testing.TB, path string) *agent.Agent {
	t.Helper()
	cfg, err := hostconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	run(ctx, t, "hostagent", a.Run)
	return a
}

// run starts an agent's Run, waits until it is ready, and stops it (and
// waits for it) when the test ends.
func run(ctx context.Context, t testing.TB, name string, runFn func(context.Context, func()) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- runFn(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { cancel(); <-done })
}

// FreePort returns a TCP port free on loopback just now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
