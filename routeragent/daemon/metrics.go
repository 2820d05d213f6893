package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vmroute/vmroute/routeragent/plan"
)

// metrics are the routeragent's Prometheus metrics, on their own registry.
type metrics struct {
	reg            *prometheus.Registry
	accepted       *prometheus.CounterVec
	refused        *prometheus.CounterVec
	planDuration   prometheus.Histogram
	reportToPlan   prometheus.Histogram
	landingToFrame prometheus.Histogram
	stale          *prometheus.GaugeVec

	mu        sync.Mutex
	staleSeen map[string]bool
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vmroute_reports_accepted_total", Help: "Reports accepted, by cluster."}, []string{"cluster"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vmroute_reports_refused_total", Help: "Reports refused, by HTTP status."}, []string{"code"}),
		planDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vmroute_plan_duration_seconds", Help: "Time to compute one plan.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10)}),
		reportToPlan: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vmroute_report_to_plan_seconds", Help: "From a report's acceptance to the plan that includes it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 12)}),
		landingToFrame: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vmroute_landing_to_announce_seconds", Help: "From a VM's landing (vCenter's clock) to its first gateway announcement.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		stale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vmroute_cluster_stale", Help: "1 while a cluster's report is past its lease."}, []string{"cluster"}),
		staleSeen: map[string]bool{},
	}
	d.moves.firstFrame = func(dt time.Duration) { m.landingToFrame.Observe(dt.Seconds()) }
	m.reg.MustRegister(m.accepted, m.refused, m.planDuration, m.reportToPlan, m.landingToFrame, m.stale,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vmroute_announcements_sent_total", Help: "Gateway announcement frames sent."},
			func() float64 { return float64(d.ann.FramesSent.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vmroute_announcements_failed_total", Help: "Gateway announcement frames that failed."},
			func() float64 { return float64(d.ann.FramesFailed.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vmroute_tls_handshake_failures_total", Help: "Failed TLS handshakes on the report API."},
			func() float64 { return float64(d.handshakes.Failures.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vmroute_api_connections_refused_total",
			Help: "Report API connections closed over a cap: in all, or per client certificate."},
			func() float64 { return float64(d.conns.Refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vmroute_announcements_skipped_total",
			Help: "Gateway announcements not sent: the gateway is not on this router (a VRRP backup), or its interface is missing."},
			func() float64 { return float64(d.ann.RoundsSkipped.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vmroute_announce_problems", Help: "Distinct reasons that skip gateway announcements now (see status)."},
			func() float64 { return float64(d.ann.Problems.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vmroute_sibling_winning",
			Help: "1 while this router's routes win at the WAN over a lost sibling's (MED 0), for one linger after its loss."},
			func() float64 { return b2f(d.winning()) }),
		&routesCollector{d: d}, &peersCollector{d: d}, &certCollector{d: d},
		newLivenessCollector("site", "other site's", "another site", d.siteStatus),
		newLivenessCollector("sibling", "other router of this site's", "another router of this site", d.siblingStatus))
	return m
}

// setStale records a cluster's staleness and reports whether it changed.
func (m *metrics) setStale(cluster string, stale bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := 0.0
	if stale {
		v = 1
	}
	m.stale.WithLabelValues(cluster).Set(v)
	was, seen := m.staleSeen[cluster]
	m.staleSeen[cluster] = stale
	return seen && was != stale || !seen && stale
}

// forget drops a cluster that is no longer configured.
func (m *metrics) forget(cluster string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stale.DeleteLabelValues(cluster)
	delete(m.staleSeen, cluster)
}

var certDesc = prometheus.NewDesc("vmroute_cert_expiry_timestamp_seconds",
	"When the report API's certificate (cert=\"api\") and the first of its client CA's (cert=\"client_ca\") end, in Unix seconds.", []string{"cert"}, nil)

type certCollector struct{ d *Daemon }

func (c *certCollector) Describe(ch chan<- *prometheus.Desc) { ch <- certDesc }

func (c *certCollector) Collect(ch chan<- prometheus.Metric) {
	if c.d.tls == nil {
		return
	}
	own, ca := c.d.tls.Expiry()
	ch <- prometheus.MustNewConstMetric(certDesc, prometheus.GaugeValue, float64(own.Unix()), "api")
	ch <- prometheus.MustNewConstMetric(certDesc, prometheus.GaugeValue, float64(ca.Unix()), "client_ca")
}

var (
	routesDesc  = prometheus.NewDesc("vmroute_routes", "Routes this site announces, by kind.", []string{"kind"}, nil)
	plannedDesc = prometheus.NewDesc("vmroute_planned_routes", "Routes the plan gives every site, by site and kind (every routeragent plans every site).", []string{"site", "kind"}, nil)
)

type routesCollector struct{ d *Daemon }

func (c *routesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- routesDesc; ch <- plannedDesc }
func (c *routesCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[plan.Kind]int{}
	if res := c.d.last.Load(); res != nil {
		for _, r := range res.Routes(c.d.conf().Site) {
			n[r.Kind]++
		}
	}
	for _, k := range []plan.Kind{plan.Host, plan.Summary} {
		ch <- prometheus.MustNewConstMetric(routesDesc, prometheus.GaugeValue, float64(n[k]), k.String())
	}
	res := c.d.last.Load()
	if res == nil {
		return
	}
	type key struct {
		site string
		kind plan.Kind
	}
	planned := map[key]int{}
	for _, s := range res.Subnets {
		for _, site := range s.Summaries {
			planned[key{site, plan.Summary}]++
		}
		for site, hosts := range s.Hosts {
			planned[key{site, plan.Host}] += len(hosts)
		}
	}
	for k, v := range planned {
		ch <- prometheus.MustNewConstMetric(plannedDesc, prometheus.GaugeValue, float64(v), k.site, k.kind.String())
	}
}

var peerDesc = prometheus.NewDesc("vmroute_bgp_peer_up", "1 while the BGP session is established.", []string{"peer"}, nil)

type peersCollector struct{ d *Daemon }

func (c *peersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- peerDesc }
func (c *peersCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	peers, err := c.d.speaker.Peers(ctx)
	if err != nil {
		return
	}
	for _, p := range peers {
		up := 0.0
		if p.State == "established" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(peerDesc, prometheus.GaugeValue, up, p.Address.String())
	}
}
