// Package agent wires the hostagent together: the vCenter watcher's
// updates are debounced into reports, which every routeragent's sender
// delivers on its own; landing times are kept on disk; a small status
// endpoint shows it all.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/inventory"
	"github.com/vmroute/vmroute/hostagent/report"
	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/version"
)

// Agent is one running hostagent.
type Agent struct {
	cfg     *config.Config
	log     *slog.Logger
	watcher *vcenter.Watcher
	senders []*report.Sender
	tls     *tlsutil.Config

	beatsOn atomic.Bool // the senders' heartbeats go (beating)

	mu      sync.Mutex
	pending *vcenter.Update
	armed   bool
	saved   map[string]inventory.Landing

	// StatusAddr is where the status endpoint listens, once Run serves.
	StatusAddr string
}

// New prepares a hostagent; Run starts it.
func New(cfg *config.Config, log *slog.Logger) (*Agent, error) {
	if err := cfg.ReadSecrets(); err != nil {
		return nil, err
	}
	tc, err := tlsutil.Load(tlsutil.Files{Cert: cfg.TLS.CertFile, Key: cfg.TLS.KeyFile, CA: cfg.TLS.CAFile})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	a := &Agent{cfg: cfg, log: log, tls: tc}
	a.beatsOn.Store(true)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.Client(), MaxIdleConnsPerHost: 2}}
	for _, u := range cfg.Routeragents {
		s := report.NewSender(u, client, cfg.RetryMin, cfg.RetryMax, log.With("component", "report"))
		s.Heartbeat = cfg.Heartbeat
		s.Beating = a.beating
		a.senders = append(a.senders, s)
	}
	a.watcher = vcenter.New(cfg.VCenter, cfg.Clusters, log.With("component", "vcenter"))
	a.watcher.Changed = a.changed
	a.watcher.GuestGrace = cfg.VCenter.GuestGrace
	a.watcher.Restore, err = a.loadLandings()
	if err != nil {
		log.Warn("landing times not restored: VMs found in place count as long landed", "err", err)
	}
	a.saved = a.watcher.Restore
	return a, nil
}

// beating says whether the senders may heartbeat: not once the vCenter
// session has been down for longer than report.stop_heartbeats_after, so
// that the routeragents show the cluster stale, as it is. It logs when
// that changes.
func (a *Agent) beating() bool {
	st := a.watcher.Status()
	on := st.Connected || time.Since(st.DownSince) < a.cfg.StopHeartbeatsAfter
	if a.beatsOn.Swap(on) != on {
		if on {
			a.log.Info("heartbeats resume: the vCenter session is up")
		} else {
			a.log.Warn("heartbeats withheld: the vCenter session is down; the routeragents will show the cluster stale", "down_since", st.DownSince)
		}
	}
	return on
}

func (a *Agent) landingsPath() string { return filepath.Join(a.cfg.StateDir, "landings.json") }

func (a *Agent) loadLandings() (map[string]inventory.Landing, error) {
	b, err := os.ReadFile(a.landingsPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l map[string]inventory.Landing
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s is broken: %w", a.landingsPath(), err)
	}
	return l, nil
}

// saveLandings writes the landing times atomically.
func (a *Agent) saveLandings(l map[string]inventory.Landing) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(a.cfg.StateDir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), a.landingsPath())
}

// changed is the watcher's hook. A change after a quiet spell is
// reported at once; the changes that follow within the debounce window
// are held, and only the newest state is reported when the window ends
// (which opens the next window), so a mass move becomes few reports.
func (a *Agent) changed(u vcenter.Update) {
	a.mu.Lock()
	a.pending = &u
	if a.armed {
		a.mu.Unlock()
		return
	}
	a.armed = true
	a.mu.Unlock()
	a.publish()
	time.AfterFunc(a.cfg.Debounce, a.windowEnd)
}

// windowEnd reports what changed during the debounce window, if anything,
// and then opens another window; otherwise the next change is reported at
// once.
func (a *Agent) windowEnd() {
	a.mu.Lock()
	held := a.pending != nil
	a.armed = held
	a.mu.Unlock()
	if held {
		a.publish()
		time.AfterFunc(a.cfg.Debounce, a.windowEnd)
	}
}

// publish offers the pending state to every sender and saves the landing
// times when they changed. Calls never overlap: changed and windowEnd
// take turns through armed.
func (a *Agent) publish() {
	a.mu.Lock()
	u := a.pending
	a.pending = nil
	save := !reflect.DeepEqual(u.Landings, a.saved)
	if save {
		a.saved = u.Landings
	}
	a.mu.Unlock()
	for _, s := range a.senders {
		s.Offer(u.Clusters)
	}
	if save {
		if err := a.saveLandings(u.Landings); err != nil {
			a.log.Error("landing times not saved", "err", err)
		}
	}
}

// Run watches and reports until ctx ends; ready is called once serving.
func (a *Agent) Run(ctx context.Context, ready func()) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, s := range a.senders {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	if a.cfg.StatusListen != "" {
		stop, err := a.serveStatus(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	a.log.Info("hostagent started", "clusters", len(a.cfg.Clusters), "routeragents", len(a.senders), "status", a.StatusAddr)
	for _, w := range a.tls.Warnings(time.Now()) {
		a.log.Warn("certificate ends soon", "err", w)
	}
	if ready != nil {
		ready()
	}
	return a.watcher.Run(ctx)
}

// Status is the hostagent's state at /v1/status.
type Status struct {
	// Version is the running hostagent's.
	Version      string         `json:"version"`
	VCenter      vcenter.Status `json:"vcenter"`
	Routeragents []report.Stats `json:"routeragents"`
	// Certificates are the client certificate and CA that end within 30
	// days.
	Certificates []string `json:"certificate_warnings,omitempty"`
}

// Status returns the hostagent's state.
func (a *Agent) Status() Status {
	st := Status{Version: version.Version, VCenter: a.watcher.Status(), Certificates: a.tls.Warnings(time.Now())}
	for _, s := range a.senders {
		st.Routeragents = append(st.Routeragents, s.Stats())
	}
	return st
}

func (a *Agent) serveStatus(ctx context.Context) (func(), error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{a: a})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(a.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", a.cfg.StatusListen)
	if err != nil {
		return nil, fmt.Errorf("status listener: %w", err)
	}
	a.StatusAddr = ln.Addr().String()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("status listener", "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

var (
	descConnected     = prometheus.NewDesc("vmroute_vcenter_connected", "1 while the vCenter session is up.", nil, nil)
	descVMs           = prometheus.NewDesc("vmroute_vms_watched", "VMs in the watched clusters.", nil, nil)
	descLandings      = prometheus.NewDesc("vmroute_landings_total", "Landings seen since start.", nil, nil)
	descResyncs       = prometheus.NewDesc("vmroute_vcenter_resyncs_total", "Full resyncs after a lost session.", nil, nil)
	descLoginsRefused = prometheus.NewDesc("vmroute_vcenter_logins_refused_total", "Logins vCenter refused (InvalidLogin): the user name or password is wrong or expired; the next try waits at least 5 minutes.", nil, nil)
	descOffset        = prometheus.NewDesc("vmroute_vcenter_clock_offset_seconds", "vCenter's clock less this appliance's, at the last login.", nil, nil)
	descSent          = prometheus.NewDesc("vmroute_reports_sent_total", "Reports delivered, by routeragent.", []string{"routeragent"}, nil)
	descRefused       = prometheus.NewDesc("vmroute_reports_refused_total", "Reports refused, by routeragent.", []string{"routeragent"}, nil)
	descFailed        = prometheus.NewDesc("vmroute_reports_failed_total", "Deliveries that failed and were retried, by routeragent.", []string{"routeragent"}, nil)
	descHosts         = prometheus.NewDesc("vmroute_hosts", "Hosts of the watched clusters placed at a site, by cluster and site.", []string{"cluster", "site"}, nil)
	descUnplaced      = prometheus.NewDesc("vmroute_hosts_unplaced", "Hosts of the watched clusters that no rule places at a site, by cluster.", []string{"cluster"}, nil)
	descVMsOut        = prometheus.NewDesc("vmroute_vms_unplaced", "VMs left out of reports: never seen at a site, on a host no rule places.", nil, nil)
	descFlagged       = prometheus.NewDesc("vmroute_vms_flagged", "VMs reported with less than vCenter knows, by why: truncated (more addresses than a report carries), tools_silent (last addresses kept), unreachable (last state kept), duplicate (one instance UUID, two VMs), hidden_portgroup (an adapter on a port group the vCenter user cannot see).", []string{"why"}, nil)
	descCopies        = prometheus.NewDesc("vmroute_vm_copies", "Copies that claim nothing, by kind: template, managed (by another product), Fault Tolerance secondary.", []string{"kind"}, nil)
	descWithheld      = prometheus.NewDesc("vmroute_vcenter_properties_withheld", "Properties vCenter withholds from the user (MissingSet): check its role.", nil, nil)
	descHidden        = prometheus.NewDesc("vmroute_hosts_hidden", "Hosts of the watched clusters the vCenter user cannot see.", nil, nil)
	descCert          = prometheus.NewDesc("vmroute_cert_expiry_timestamp_seconds",
		"When the hostagent's client certificate (cert=\"client\") and the first of its CA's (cert=\"ca\") end, in Unix seconds.", []string{"cert"}, nil)
)

type collector struct{ a *Agent }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descVMs, descLandings, descResyncs, descLoginsRefused, descOffset, descSent, descRefused, descFailed, descHosts, descUnplaced, descVMsOut, descFlagged, descCopies, descWithheld, descHidden, descCert} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.a.Status()
	up := 0.0
	if st.VCenter.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descVMs, prometheus.GaugeValue, float64(st.VCenter.VMs))
	ch <- prometheus.MustNewConstMetric(descLandings, prometheus.CounterValue, float64(st.VCenter.Landings))
	ch <- prometheus.MustNewConstMetric(descResyncs, prometheus.CounterValue, float64(st.VCenter.Resyncs))
	ch <- prometheus.MustNewConstMetric(descLoginsRefused, prometheus.CounterValue, float64(st.VCenter.LoginsRefused))
	ch <- prometheus.MustNewConstMetric(descOffset, prometheus.GaugeValue, st.VCenter.ClockOffset.Seconds())
	ch <- prometheus.MustNewConstMetric(descVMsOut, prometheus.GaugeValue, float64(st.VCenter.Unplaced))
	f := st.VCenter.Flags
	for why, vms := range map[string][]string{"truncated": f.Truncated, "tools_silent": f.ToolsSilent, "unreachable": f.Unreachable, "duplicate": f.Duplicates,
		"hidden_portgroup": f.HiddenPortgroup} {
		ch <- prometheus.MustNewConstMetric(descFlagged, prometheus.GaugeValue, float64(len(vms)), why)
	}
	for kind, n := range f.Copies {
		ch <- prometheus.MustNewConstMetric(descCopies, prometheus.GaugeValue, float64(n), kind)
	}
	ch <- prometheus.MustNewConstMetric(descWithheld, prometheus.GaugeValue, float64(len(f.Missing)))
	ch <- prometheus.MustNewConstMetric(descHidden, prometheus.GaugeValue, float64(len(st.VCenter.HiddenHosts)))
	own, ca := c.a.tls.Expiry()
	ch <- prometheus.MustNewConstMetric(descCert, prometheus.GaugeValue, float64(own.Unix()), "client")
	ch <- prometheus.MustNewConstMetric(descCert, prometheus.GaugeValue, float64(ca.Unix()), "ca")
	type key struct{ cluster, site string }
	hosts := map[key]int{}
	for _, h := range st.VCenter.Hosts {
		hosts[key{h.Cluster, h.Site}]++
	}
	for k, n := range hosts {
		if k.site == "" {
			ch <- prometheus.MustNewConstMetric(descUnplaced, prometheus.GaugeValue, float64(n), k.cluster)
		} else {
			ch <- prometheus.MustNewConstMetric(descHosts, prometheus.GaugeValue, float64(n), k.cluster, k.site)
		}
	}
	for _, r := range st.Routeragents {
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(r.Sent), r.URL)
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(r.Refused), r.URL)
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(r.Failed), r.URL)
	}
}
