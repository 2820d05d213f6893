// Command vmroutectl shows a routeragent's state to operators: its
// clusters, location table, routes, BGP peers, moves and announcements.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vmroute/vmroute/shared/support"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/version"
)

const usage = `usage: vmroutectl [flags] COMMAND

Commands:
  status          site, clusters and their freshness, route counts, findings
  vms             the location table: where each VM is and its addresses
  routes          the routes this site wants and advertises, and every site's plan
  peers           BGP sessions
  moves           the timeline of recent landings at this site
  announcements   gateway announcements per VM
  pki ...         a CA for vmroute's mutual TLS, and its certificates (vmroutectl pki -h)
  support [-o F]  one tarball for a support case: versions, configuration without
                  its secrets, status, the last hour of the journal, network, clock

Flags:
`

// options are vmroutectl's flags.
type options struct {
	url, cert, key, ca string
	json, version      bool
}

// parse reads the command and the flags, which may come before it, after
// it, or both ("vmroutectl peers --json", as people type it).
func parse(args []string, errOut io.Writer) (options, string, error) {
	var o options
	fs := flag.NewFlagSet("vmroutectl", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.url, "url", defaultURL(), "agent status `URL`: a routeragent's status_listen, or its API (https) with -cert, -key and -ca; or a hostagent's status listen (status only). The default is the local routeragent's, or the hostagent's where only the hostagent is configured")
	fs.StringVar(&o.cert, "cert", "", "client certificate `file` for an https URL")
	fs.StringVar(&o.key, "key", "", "client key `file` for an https URL")
	fs.StringVar(&o.ca, "ca", "", "CA `file` that signed the routeragent's certificate")
	fs.BoolVar(&o.json, "json", false, "print the JSON as the routeragent sends it")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(errOut, usage)
		fs.PrintDefaults()
	}
	var cmds []string
	for {
		if err := fs.Parse(args); err != nil {
			return o, "", err
		}
		if fs.NArg() == 0 {
			break
		}
		cmds, args = append(cmds, fs.Arg(0)), fs.Args()[1:]
	}
	if o.version {
		return o, "", nil
	}
	if len(cmds) != 1 {
		fs.Usage()
		return o, "", fmt.Errorf("want one command, got %q", cmds)
	}
	return o, cmds[0], nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pki" {
		if err := runPKI(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, "vmroutectl pki:", err)
			}
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "support" {
		if err := runSupport(os.Args[2:], os.Stderr); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, "vmroutectl support:", err)
			}
			os.Exit(1)
		}
		return
	}
	o, cmd, err := parse(os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		os.Exit(2)
	case o.version:
		fmt.Println(version.String("vmroutectl"))
		return
	}
	if err := run(cmd, o.url, o.cert, o.key, o.ca, o.json, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vmroutectl:", err)
		os.Exit(1)
	}
}

// runSupport writes this machine's support bundle.
func runSupport(args []string, errOut io.Writer) error {
	fs := flag.NewFlagSet("vmroutectl support", flag.ContinueOnError)
	fs.SetOutput(errOut)
	out := fs.String("o", support.DefaultName(time.Now()), "the bundle's `file`, - for stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected %q", fs.Args())
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := support.WriteFile(context.Background(), *out, support.Machine(self), support.MachineScrubs("/etc/vmroute"), support.Exec); err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(errOut, "wrote %s: no secret is in it, but read it before you send it\n", *out)
	}
	return nil
}

// defaultURL is the local agent's status listener: the routeragent's,
// unless this machine has the hostagent's configuration and not the
// routeragent's (as the hostagent appliance).
func defaultURL() string {
	_, rerr := os.Stat("/etc/vmroute/routeragent.toml")
	_, herr := os.Stat("/etc/vmroute/hostagent.toml")
	if rerr != nil && herr == nil {
		return "http://127.0.0.1:9180"
	}
	return "http://127.0.0.1:9181"
}

func run(cmd, url, cert, key, ca string, asJSON bool, out io.Writer) error {
	show, ok := tables[cmd]
	if !ok {
		return fmt.Errorf("unknown command %q; see vmroutectl -h", cmd)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if strings.HasPrefix(url, "https://") {
		if cert == "" || key == "" || ca == "" {
			return errors.New("an https URL needs -cert, -key and -ca")
		}
		tc, err := tlsutil.Load(tlsutil.Files{Cert: cert, Key: key, CA: ca})
		if err != nil {
			return err
		}
		client.Transport = &http.Transport{TLSClientConfig: tc.Client()}
	}
	resp, err := client.Get(strings.TrimSuffix(url, "/") + "/v1/" + cmd)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if asJSON {
		_, err := out.Write(body)
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if err := show(body, w); err != nil {
		return fmt.Errorf("decode %s: %w", cmd, err)
	}
	return w.Flush()
}

var tables = map[string]func([]byte, io.Writer) error{
	"status":        showStatus,
	"vms":           showVMs,
	"routes":        showRoutes,
	"peers":         showPeers,
	"moves":         showMoves,
	"announcements": showAnnouncements,
}

// showHostagentStatus shows a hostagent's status: its vCenter
// connection and each routeragent's.
func showHostagentStatus(b []byte, w io.Writer) error {
	var s struct {
		VCenter struct {
			URL       string
			Connected bool
			Since     time.Time
			LastError string `json:"last_error"`
			VMs       int
			Refused   int       `json:"logins_refused"`
			RetryAt   time.Time `json:"retry_at"`
		}
		Routeragents []struct {
			URL       string
			Sent      int
			Full      int
			Refused   int
			Failed    int
			LastSent  time.Time `json:"last_sent"`
			LastError string    `json:"last_error"`
			InSync    bool      `json:"in_sync"`
		}
		Certificates []string `json:"certificate_warnings"`
		Version      string
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s.Version != "" {
		fmt.Fprintf(w, "hostagent version %s\n", s.Version)
	}
	state := "connected since " + ago(s.VCenter.Since)
	if !s.VCenter.Connected {
		state = "NOT connected"
	}
	fmt.Fprintf(w, "hostagent: vCenter %s %s, %d VMs watched\n", s.VCenter.URL, state, s.VCenter.VMs)
	if s.VCenter.LastError != "" {
		fmt.Fprintf(w, "vCenter's last error: %s\n", s.VCenter.LastError)
	}
	if s.VCenter.Refused > 0 {
		fmt.Fprintf(w, "vCenter refused the login %d times: check the user and password (vsphere.local passwords expire)\n", s.VCenter.Refused)
	}
	if !s.VCenter.Connected && !s.VCenter.RetryAt.IsZero() {
		fmt.Fprintf(w, "next login at %s\n", s.VCenter.RetryAt.Format(time.RFC3339))
	}
	fmt.Fprintln(w, "\nROUTERAGENT\tIN SYNC\tSENT\tFULL\tREFUSED\tFAILED\tLAST SENT\tLAST ERROR")
	for _, r := range s.Routeragents {
		fmt.Fprintf(w, "%s\t%t\t%d\t%d\t%d\t%d\t%s\t%s\n", r.URL, r.InSync, r.Sent, r.Full, r.Refused, r.Failed, ago(r.LastSent), r.LastError)
	}
	for _, c := range s.Certificates {
		fmt.Fprintf(w, "certificate: %s\n", c)
	}
	return nil
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func showStatus(b []byte, w io.Writer) error {
	var kind struct{ VCenter json.RawMessage }
	if json.Unmarshal(b, &kind) == nil && kind.VCenter != nil {
		return showHostagentStatus(b, w)
	}
	var s struct {
		Site     string
		Version  string
		DryRun   bool `json:"dry_run"`
		Routes   map[string]int
		Clusters []struct {
			Name       string
			Sites      []string
			Generation uint64
			Received   time.Time
			Stale      bool
			VMs        int
		}
		Findings struct {
			Conflicts, Outside, Ceilings, Held []json.RawMessage
			OffNetwork                         []json.RawMessage `json:"off_network"`
			Infrastructure                     []json.RawMessage
			Stale                              []string
		}
		Peers []struct {
			Address, State, Why string
		}
		Local        []string `json:"local_problems"`
		Announce     []string `json:"announce_problems"`
		ClockRefused []struct {
			Cluster, Error string
		} `json:"clock_refused"`
		Sites, Siblings []struct {
			Site, State string
			Since       time.Time
			Failing     []string
		}
		Winning bool
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	mode := ""
	if s.DryRun {
		mode = "  (dry run: announcing nothing)"
	}
	fmt.Fprintf(w, "site %s, version %s%s\n", s.Site, s.Version, mode)
	fmt.Fprintf(w, "routes announced: %d host, %d summary\n", s.Routes["host"], s.Routes["summary"])
	fmt.Fprintf(w, "findings: %d conflicts, %d infrastructure addresses claimed, %d outside every subnet, %d off their subnet's networks, %d ceilings hit, %d VMs held\n\n",
		len(s.Findings.Conflicts), len(s.Findings.Infrastructure), len(s.Findings.Outside), len(s.Findings.OffNetwork), len(s.Findings.Ceilings), len(s.Findings.Held))
	fmt.Fprintln(w, "CLUSTER\tSITES\tGENERATION\tVMS\tREPORTED\tFRESH")
	for _, c := range s.Clusters {
		fresh := "yes"
		if c.Stale {
			fresh = "STALE"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", c.Name, strings.Join(c.Sites, ","), c.Generation, c.VMs, ago(c.Received), fresh)
	}
	fmt.Fprintln(w, "\nPEER\tSTATE\tWHY")
	for _, p := range s.Peers {
		fmt.Fprintf(w, "%s\t%s\t%s\n", p.Address, p.State, p.Why)
	}
	if len(s.Sites) > 0 {
		fmt.Fprintln(w, "\nSITE\tSTATE\tSINCE\tFAILING")
		for _, st := range s.Sites {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", st.Site, st.State, ago(st.Since), strings.Join(st.Failing, "; "))
		}
	}
	if len(s.Siblings) > 0 {
		win := ""
		if s.Winning {
			win = "  (winning at the WAN over a lost sibling: MED 0)"
		}
		fmt.Fprintf(w, "\nSIBLING\tSTATE\tSINCE\tFAILING%s\n", win)
		for _, st := range s.Siblings {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", st.Site, st.State, ago(st.Since), strings.Join(st.Failing, "; "))
		}
	}
	problems := append(s.Local, s.Announce...)
	for _, c := range s.ClockRefused {
		problems = append(problems, fmt.Sprintf("cluster %s: reports refused for the clock: %s", c.Cluster, c.Error))
	}
	if len(problems) > 0 {
		fmt.Fprintln(w, "\nPROBLEMS")
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
	}
	return nil
}

func showVMs(b []byte, w io.Writer) error {
	var vms []struct {
		VM, Name, Site, Cluster string
		Present, Held           bool
		Discovered              bool
		SiteLost                bool      `json:"site_lost"`
		LandedAt                time.Time `json:"landed_at"`
		NICs                    []struct {
			MAC       string
			Addresses []string
		}
	}
	if err := json.Unmarshal(b, &vms); err != nil {
		return err
	}
	fmt.Fprintln(w, "NAME\tSITE\tCLUSTER\tSTATE\tLANDED\tMAC\tADDRESSES")
	for _, v := range vms {
		state := "present"
		switch {
		case !v.Present:
			state = "off"
		case v.Held:
			state = "held (flapping)"
		}
		if v.Discovered {
			state += ", addresses discovered"
		}
		if v.SiteLost {
			state += ", SITE LOST (last known place)"
		}
		for i, n := range v.NICs {
			name, site, cl, st, landed := v.Name, v.Site, v.Cluster, state, ago(v.LandedAt)
			if i > 0 {
				name, site, cl, st, landed = "", "", "", "", ""
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, site, cl, st, landed, n.MAC, strings.Join(n.Addresses, " "))
		}
	}
	return nil
}

type route struct {
	Prefix, Kind, Site string
}

func showRoutes(b []byte, w io.Writer) error {
	var r struct {
		Desired, Advertised []route
		AllSites            []route `json:"all_sites"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	adv := map[string]bool{}
	for _, a := range r.Advertised {
		adv[a.Prefix] = true
	}
	fmt.Fprintln(w, "PREFIX\tKIND\tADVERTISED")
	for _, d := range r.Desired {
		state := "yes"
		if !adv[d.Prefix] {
			state = "no (pending or dry run)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", d.Prefix, d.Kind, state)
	}
	fmt.Fprintln(w, "\nEVERY SITE'S PLAN\nSITE\tPREFIX\tKIND")
	for _, a := range r.AllSites {
		fmt.Fprintf(w, "%s\t%s\t%s\n", a.Site, a.Prefix, a.Kind)
	}
	return nil
}

func showPeers(b []byte, w io.Writer) error {
	var peers []struct {
		Address, State, Why            string
		ASN                            uint32
		Since                          time.Time
		Advertised, Received, Accepted uint64
		Flaps                          uint32
		LLGR                           bool
	}
	if err := json.Unmarshal(b, &peers); err != nil {
		return err
	}
	fmt.Fprintln(w, "PEER\tASN\tSTATE\tSINCE\tSENT\tRECEIVED\tFLAPS\tLLGR\tWHY")
	for _, p := range peers {
		llgr := "no"
		if p.LLGR {
			llgr = "yes"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", p.Address, p.ASN, p.State, ago(p.Since), p.Advertised, p.Received, p.Flaps, llgr, p.Why)
	}
	return nil
}

func showMoves(b []byte, w io.Writer) error {
	var moves []struct {
		VM, Name, Site         string
		LandedAt               time.Time `json:"landed_at"`
		Received, Planned, BGP time.Time
		Announced              []time.Time
		Event                  string
	}
	if err := json.Unmarshal(b, &moves); err != nil {
		return err
	}
	since := func(t, from time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return "+" + t.Sub(from).Round(time.Millisecond).String()
	}
	fmt.Fprintln(w, "VM\tSITE\tLANDED\tREPORT\tPLANNED\tBGP\tFIRST ANNOUNCEMENT\tANNOUNCEMENTS")
	for _, m := range moves {
		if m.Event != "" {
			fmt.Fprintf(w, "%s\t%s\t%s\n", m.Event, m.Site, m.Planned.Format(time.RFC3339Nano))
			continue
		}
		first := time.Time{}
		if len(m.Announced) > 0 {
			first = m.Announced[0]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", m.Name, m.Site, m.LandedAt.Format(time.RFC3339Nano),
			since(m.Received, m.LandedAt), since(m.Planned, m.LandedAt), since(m.BGP, m.LandedAt), since(first, m.LandedAt), len(m.Announced))
	}
	return nil
}

func showAnnouncements(b []byte, w io.Writer) error {
	var st []struct {
		VM, Name, Subnet, Interface, MAC, Problem string
		Sent                                      int
		LastSent                                  time.Time `json:"last_sent"`
		Next                                      time.Time
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	fmt.Fprintln(w, "NAME\tSUBNET\tINTERFACE\tMAC\tSENT\tLAST\tPROBLEM")
	for _, s := range st {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.Subnet, s.Interface, s.MAC, s.Sent, ago(s.LastSent), s.Problem)
	}
	return nil
}
