package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/hostagent/agent"
	"github.com/vmroute/vmroute/hostagent/report"
	"github.com/vmroute/vmroute/hostagent/vcenter"
)

// TestRender lays out what a vSphere admin reads in the VM's console, in
// each of its states.
func TestRender(t *testing.T) {
	ok := &agent.Status{VCenter: vcenter.Status{URL: "https://vc/sdk", Connected: true, VMs: 12},
		Routeragents: []report.Stats{{URL: "https://ra:8443", Sent: 3, LastSent: time.Now(), InSync: true}, {URL: "https://rb:8443", LastError: "connection refused"}}}
	tests := []struct {
		name string
		s    state
		want []string
	}{
		{"running", state{Addresses: []string{"192.0.2.20/24 (ens192)"}, Service: "active", Status: ok},
			[]string{"address:       192.0.2.20/24 (ens192)", "vCenter:       https://vc/sdk, connected", "VMs watched:   12",
				"routeragents:  1 of 2 in sync", "last error:    https://rb:8443: connection refused"}},
		{"wrong password", state{Service: "active", Status: &agent.Status{VCenter: vcenter.Status{URL: "https://vc/sdk", LastError: "Login failure"}}},
			[]string{"address:       none yet", "vCenter:       https://vc/sdk, NOT connected", "last error:    vCenter: Login failure"}},
		{"bad property", state{Service: "inactive", ConfigError: "property net.mode: \"x\" is not dhcp or static", StatusError: "connection refused"},
			[]string{"hostagent:     inactive", "last error:    configuration: property net.mode"}},
		{"no status", state{Service: "activating", StatusError: "connection refused"},
			[]string{"last error:    no status from the hostagent: connection refused", "time:          not chosen yet", "power the appliance off"}},
		{"no environment", state{Service: "active", Status: ok, Notice: "no OVF environment at this boot: running on the last good configuration, of 2026-12-07 02:10 UTC",
			TimeSource: "the ESXi host's clock (VMware Tools)"},
			[]string{"NOTE:          no OVF environment at this boot: running on the last good configuration", "time:          the ESXi host's clock (VMware Tools)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(tt.s)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
