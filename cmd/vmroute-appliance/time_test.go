package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeClock struct {
	configured, dhcp []string
	// dhcpAfter is the number of asks before DHCP's servers show.
	dhcpAfter int
	asks      int
	syncErr   error
	sync      []bool
}

func (f *fakeClock) NTPServers(context.Context) ([]string, []string, error) {
	f.asks++
	if f.asks <= f.dhcpAfter {
		return f.configured, nil, nil
	}
	return f.configured, f.dhcp, nil
}

func (f *fakeClock) HostSync(_ context.Context, on bool) error {
	f.sync = append(f.sync, on)
	return f.syncErr
}

// TestChooseTime: NTP from the properties or DHCP turns the host's time
// sync off; without any NTP server the host's clock is the source, and
// the console says so, with the reason when it cannot be turned on.
func TestChooseTime(t *testing.T) {
	tests := []struct {
		name     string
		c        *fakeClock
		want     string
		wantSync bool
	}{
		{"net.ntp", &fakeClock{configured: []string{"ntp1.example.net"}, dhcp: []string{"192.0.2.123"}}, "NTP ntp1.example.net (net.ntp)", false},
		{"DHCP, late", &fakeClock{dhcp: []string{"192.0.2.123"}, dhcpAfter: 2}, "NTP 192.0.2.123 (from DHCP)", false},
		{"none", &fakeClock{}, "the ESXi host's clock (VMware Tools)", true},
		{"none, no VMware", &fakeClock{syncErr: errors.New("not in a VMware VM")}, "turning VMware Tools' time sync on failed: not in a VMware VM", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := chooseTime(context.Background(), tt.c, 3*time.Second)
			if !strings.Contains(got, tt.want) {
				t.Errorf("source %q, want %q", got, tt.want)
			}
			if len(tt.c.sync) != 1 || tt.c.sync[0] != tt.wantSync {
				t.Errorf("host time sync set %v, want once %t", tt.c.sync, tt.wantSync)
			}
		})
	}
}
