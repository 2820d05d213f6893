package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// timeSourceFile holds the clock's source, for the console.
var timeSourceFile = filepath.Join(stateDir, "time-source")

// clock is what decides the clock's source: the NTP servers timesyncd
// has, and the switch of VMware Tools' host time sync.
type clock interface {
	// NTPServers are the servers of the configuration (net.ntp) and
	// those DHCP gave.
	NTPServers(ctx context.Context) (configured, dhcp []string, err error)
	// HostSync turns the ESXi host's time sync through VMware Tools on
	// or off.
	HostSync(ctx context.Context, on bool) error
}

// chooseTime picks the clock's source: NTP when net.ntp or DHCP names a
// server, else the ESXi host's clock through VMware Tools, for TLS and
// landing times depend on a right clock. It turns VMware Tools' sync on
// or off to match (two sources fight), waits up to wait for DHCP's
// servers, and returns the source as the console shows it.
func chooseTime(ctx context.Context, c clock, wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		configured, dhcp, err := c.NTPServers(ctx)
		source := ""
		switch {
		case len(configured) > 0:
			source = "NTP " + strings.Join(configured, ", ") + " (net.ntp)"
		case len(dhcp) > 0:
			source = "NTP " + strings.Join(dhcp, ", ") + " (from DHCP)"
		case err == nil && time.Now().Before(deadline) && ctx.Err() == nil:
			time.Sleep(time.Second)
			continue
		}
		if source != "" {
			_ = c.HostSync(ctx, false)
			return source
		}
		source = "the ESXi host's clock (VMware Tools), for no NTP server is configured nor came from DHCP"
		if err := c.HostSync(ctx, true); err != nil {
			source += "; turning VMware Tools' time sync on failed: " + err.Error()
		}
		return source
	}
}

// systemClock is the appliance's: timesyncd and VMware Tools.
type systemClock struct{}

func (systemClock) NTPServers(ctx context.Context) (configured, dhcp []string, err error) {
	out, err := exec.CommandContext(ctx, "timedatectl", "show-timesync", "-p", "SystemNTPServers", "-p", "LinkNTPServers").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("timedatectl show-timesync: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "SystemNTPServers":
			configured = strings.Fields(v)
		case "LinkNTPServers":
			dhcp = strings.Fields(v)
		}
	}
	return configured, dhcp, nil
}

func (systemClock) HostSync(ctx context.Context, on bool) error {
	arg := "disable"
	if on {
		arg = "enable"
	}
	out, err := exec.CommandContext(ctx, "vmware-toolbox-cmd", "timesync", arg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("vmware-toolbox-cmd timesync %s: %v: %s", arg, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// timeStep chooses the clock's source and records it for the console.
func timeStep(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	source := chooseTime(ctx, systemClock{}, 20*time.Second)
	log.Info("the clock's source", "source", source)
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(timeSourceFile, []byte(source+"\n"), 0o644)
}
