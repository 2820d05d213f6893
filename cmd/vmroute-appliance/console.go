package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/vmroute/vmroute/hostagent/agent"
	"github.com/vmroute/vmroute/hostagent/appliance"
	"github.com/vmroute/vmroute/shared/version"
)

// console shows the appliance's state on the terminals, as a vSphere
// admin sees it in the VM's console: version, addresses, the vCenter
// connection, the VMs watched, the routeragents in sync and the last
// error. It redraws when the state changes.
func console(ttys []string) error {
	last := ""
	for {
		screen := render(snapshot())
		if screen != last {
			for _, t := range ttys {
				if f, err := os.OpenFile(t, os.O_WRONLY|syscall.O_NOCTTY, 0); err == nil {
					// Clear the screen and home the cursor first.
					_, _ = f.WriteString("\x1b[2J\x1b[H" + strings.ReplaceAll(screen, "\n", "\r\n"))
					f.Close()
				}
			}
			last = screen
		}
		time.Sleep(3 * time.Second)
	}
}

// state is what the console shows.
type state struct {
	Addresses   []string
	ConfigError string
	// Notice says the hostagent runs on the last good configuration;
	// TimeSource is the clock's.
	Notice, TimeSource string
	Service            string // the hostagent unit's ActiveState
	Status             *agent.Status
	StatusError        string
}

func snapshot() state {
	var s state
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback != 0 {
				continue
			}
			addrs, _ := i.Addrs()
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
					s.Addresses = append(s.Addresses, fmt.Sprintf("%s (%s)", a, i.Name))
				}
			}
		}
	}
	if b, err := os.ReadFile(errorFile); err == nil {
		s.ConfigError = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(noticeFile); err == nil {
		s.Notice = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(timeSourceFile); err == nil {
		s.TimeSource = strings.TrimSpace(string(b))
	}
	out, _ := exec.Command("systemctl", "show", "-P", "ActiveState", "vmroute-hostagent.service").Output()
	s.Service = strings.TrimSpace(string(out))
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + appliance.StatusListen + "/v1/status")
	if err != nil {
		s.StatusError = err.Error()
		return s
	}
	defer resp.Body.Close()
	var st agent.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		s.StatusError = err.Error()
		return s
	}
	s.Status = &st
	return s
}

// render lays the state out, one fact per line.
func render(s state) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vmroute hostagent appliance %s\n\n", version.Version)
	addr := "none yet"
	if len(s.Addresses) > 0 {
		addr = strings.Join(s.Addresses, ", ")
	}
	fmt.Fprintf(&b, "  address:       %s\n", addr)
	fmt.Fprintf(&b, "  hostagent:     %s\n", s.Service)
	if s.Notice != "" {
		fmt.Fprintf(&b, "  NOTE:          %s\n", s.Notice)
	}
	src := s.TimeSource
	if src == "" {
		src = "not chosen yet"
	}
	fmt.Fprintf(&b, "  time:          %s\n", src)
	lastErr := ""
	switch {
	case s.ConfigError != "":
		fmt.Fprintf(&b, "  vCenter:       -\n  VMs watched:   -\n  routeragents:  -\n")
		lastErr = "configuration: " + s.ConfigError
	case s.Status == nil:
		fmt.Fprintf(&b, "  vCenter:       -\n  VMs watched:   -\n  routeragents:  -\n")
		lastErr = "no status from the hostagent: " + s.StatusError
	default:
		vc := s.Status.VCenter
		conn := "connected"
		if !vc.Connected {
			conn = "NOT connected"
			lastErr = "vCenter: " + vc.LastError
		}
		fmt.Fprintf(&b, "  vCenter:       %s, %s\n", vc.URL, conn)
		fmt.Fprintf(&b, "  VMs watched:   %d\n", vc.VMs)
		inSync := 0
		for _, r := range s.Status.Routeragents {
			if r.InSync {
				inSync++
			} else if r.LastError != "" && lastErr == "" {
				lastErr = r.URL + ": " + r.LastError
			}
		}
		fmt.Fprintf(&b, "  routeragents:  %d of %d in sync\n", inSync, len(s.Status.Routeragents))
		for _, r := range s.Status.Routeragents {
			fmt.Fprintf(&b, "    %s: sent %d, last %s\n", r.URL, r.Sent, sinceText(r.LastSent))
		}
	}
	if lastErr == "" {
		lastErr = "none"
	}
	fmt.Fprintf(&b, "  last error:    %s\n\n", lastErr)
	b.WriteString("The configuration comes from the VM's vApp options (OVF properties), read at\nevery boot. To change it: power the appliance off, edit the vApp options\nin vSphere, power it on (vSphere changes them only while the VM is off).\n")
	return b.String()
}

func sinceText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}
