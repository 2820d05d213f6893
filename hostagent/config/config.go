// Package config loads the hostagent's TOML configuration strictly.
package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/shared/config"
	"github.com/vmroute/vmroute/shared/logging"
)

// DefaultPath is where the packaged hostagent looks for its config.
const DefaultPath = "/etc/vmroute/hostagent.toml"

// Config is the hostagent's validated configuration.
type Config struct {
	// StateDir keeps the VMs' landing times across restarts.
	StateDir  string
	LogLevel  string
	LogFormat string
	VCenter   VCenter
	Clusters  []Cluster
	// Routeragents receive every report.
	Routeragents []string
	TLS          TLS
	// Debounce collects the changes that follow a reported one into one
	// report per window; a change after a quiet spell goes out at once.
	Debounce time.Duration
	// RetryMin and RetryMax bound the backoff towards a routeragent.
	RetryMin, RetryMax time.Duration
	// Heartbeat sends an empty report for a cluster that sent nothing for
	// this long: below the routeragents' lease (reports.lease, 5 minutes
	// by default), so that a quiet cluster is not shown stale.
	Heartbeat time.Duration
	// StopHeartbeatsAfter withholds the heartbeats once the vCenter
	// session has been down this long (the routeragents' lease by
	// default), so that the routeragents show the cluster stale, as it
	// is, instead of fresh.
	StopHeartbeatsAfter time.Duration
	// StatusListen serves status and metrics; empty turns it off.
	StatusListen string
}

// VCenter is the vCenter connection. The password is read from a file or
// a systemd credential, never from the TOML.
type VCenter struct {
	URL  *url.URL
	User string
	// PasswordFile names the password's file or systemd credential;
	// ReadSecrets reads it into Password, which is never logged.
	PasswordFile string
	Password     string
	// CAFile or Thumbprint verify vCenter's certificate; Insecure skips
	// verification and is logged as a warning.
	CAFile     string
	Thumbprint string
	Insecure   bool
	// GuestGrace is how long a running VM keeps its last addresses while
	// VMware Tools report none (Tools restarting or upgrading).
	GuestGrace time.Duration
	// WaitTimeout is the longest one WaitForUpdatesEx long poll lasts;
	// vCenter then answers "nothing new". A request unanswered 30 s past
	// it counts as a lost connection, so a silently dropped TCP
	// connection is noticed too.
	WaitTimeout time.Duration
}

// Cluster is one watched cluster.
type Cluster struct {
	// Path is the inventory path, such as "/DC1/host/Cluster-A".
	Path string
	// Name is the cluster's name in reports; it defaults to Path.
	Name string
	// Sites maps the cluster's hosts to sites: all to one, or split by
	// DRS host group, vSAN fault domain or host name.
	Sites sitemap.Rule
}

// TLS is the hostagent's client certificate and the CA of routeragents.
type TLS struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

type file struct {
	StateDir string `toml:"state_dir"`
	Log      struct {
		Level  string `toml:"level"`
		Format string `toml:"format"`
	} `toml:"log"`
	VCenter struct {
		URL          string `toml:"url"`
		User         string `toml:"user"`
		PasswordFile string `toml:"password_file"`
		CAFile       string `toml:"ca_file"`
		Thumbprint   string `toml:"thumbprint"`
		Insecure     bool   `toml:"insecure"`
		WaitTimeout  string `toml:"wait_timeout"`
		GuestGrace   string `toml:"guest_grace"`
	} `toml:"vcenter"`
	Clusters []struct {
		Path    string              `toml:"path"`
		Name    string              `toml:"name"`
		Site    string              `toml:"site"`
		SitesBy string              `toml:"sites_by"`
		Sites   map[string][]string `toml:"sites"`
	} `toml:"clusters"`
	Routeragents []string `toml:"routeragents"`
	TLS          struct {
		CertFile string `toml:"cert_file"`
		KeyFile  string `toml:"key_file"`
		CAFile   string `toml:"ca_file"`
	} `toml:"tls"`
	Report struct {
		Debounce            string `toml:"debounce"`
		RetryMin            string `toml:"retry_min"`
		RetryMax            string `toml:"retry_max"`
		Heartbeat           string `toml:"heartbeat"`
		StopHeartbeatsAfter string `toml:"stop_heartbeats_after"`
	} `toml:"report"`
	Status struct {
		Listen *string `toml:"listen"`
	} `toml:"status"`
}

// Load reads and validates the hostagent's configuration at path.
func Load(path string) (*Config, error) {
	var raw file
	f, err := config.Load(path, &raw)
	if err != nil {
		return nil, err
	}
	c := &Config{
		StateDir:     raw.StateDir,
		LogLevel:     f.OneOf("log.level", raw.Log.Level, "info", "debug", "warn", "error"),
		LogFormat:    f.OneOf("log.format", raw.Log.Format, logging.FormatText, logging.FormatJSON),
		Routeragents: raw.Routeragents,
		TLS: TLS{
			CertFile: f.String("tls.cert_file", raw.TLS.CertFile, true),
			KeyFile:  f.String("tls.key_file", raw.TLS.KeyFile, true),
			CAFile:   f.String("tls.ca_file", raw.TLS.CAFile, true),
		},
		Debounce:            f.Duration("report.debounce", raw.Report.Debounce, 20*time.Millisecond),
		RetryMin:            f.Duration("report.retry_min", raw.Report.RetryMin, 200*time.Millisecond),
		RetryMax:            f.Duration("report.retry_max", raw.Report.RetryMax, 30*time.Second),
		Heartbeat:           f.Duration("report.heartbeat", raw.Report.Heartbeat, time.Minute),
		StopHeartbeatsAfter: f.Duration("report.stop_heartbeats_after", raw.Report.StopHeartbeatsAfter, 5*time.Minute),
		StatusListen:        "127.0.0.1:9180",
	}
	if c.StateDir == "" {
		c.StateDir = "/var/lib/vmroute-hostagent"
	}
	if raw.Status.Listen != nil {
		c.StatusListen = *raw.Status.Listen
	}
	if c.RetryMax < c.RetryMin {
		f.Errorf("report.retry_max", "%s is below retry_min %s", c.RetryMax, c.RetryMin)
	}
	v := raw.VCenter
	c.VCenter = VCenter{User: f.String("vcenter.user", v.User, true), CAFile: v.CAFile, Insecure: v.Insecure,
		Thumbprint: strings.ToUpper(v.Thumbprint), WaitTimeout: f.Duration("vcenter.wait_timeout", v.WaitTimeout, time.Minute),
		GuestGrace: f.Duration("vcenter.guest_grace", v.GuestGrace, 10*time.Minute)}
	if w := c.VCenter.WaitTimeout; w < time.Second || w > 10*time.Minute || w%time.Second != 0 {
		f.Errorf("vcenter.wait_timeout", "%s: want whole seconds from 1s to 10m", w)
	}
	if u, err := url.Parse(v.URL); v.URL == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		f.Errorf("vcenter.url", "%q is not an https:// URL such as https://vcenter.example.net/sdk", v.URL)
	} else {
		if u.Path == "" {
			u.Path = "/sdk"
		}
		c.VCenter.URL = u
	}
	if n := btoi(v.CAFile != "") + btoi(v.Thumbprint != "") + btoi(v.Insecure); n != 1 {
		f.Errorf("vcenter", "set exactly one of ca_file, thumbprint or insecure = true to say how vCenter's certificate is checked")
	}
	c.VCenter.PasswordFile = v.PasswordFile
	if v.PasswordFile == "" {
		f.Errorf("vcenter.password_file", "missing: a file or systemd credential name holding the password")
	}
	if len(raw.Clusters) == 0 {
		f.Errorf("clusters", "missing: at least one [[clusters]] with path and site (or sites_by and sites)")
	}
	names := map[string]int{}
	for i, cl := range raw.Clusters {
		key := fmt.Sprintf("clusters[%d]", i)
		cc := Cluster{Path: f.String(key+".path", cl.Path, true), Name: cl.Name,
			Sites: sitemap.Rule{By: sitemap.Source(cl.SitesBy), Site: cl.Site, Sites: cl.Sites}}
		if cc.Sites.By == "" && len(cl.Sites) == 0 {
			cc.Sites.By = sitemap.Cluster
		}
		if k, err := cc.Sites.Check(); err != nil {
			f.Errorf(key+"."+k, "%v", err)
		}
		if cc.Name == "" {
			cc.Name = cc.Path
		}
		if j, dup := names[cc.Name]; dup {
			f.Errorf(key, "cluster %q is configured twice (also clusters[%d])", cc.Name, j)
		}
		names[cc.Name] = i
		c.Clusters = append(c.Clusters, cc)
	}
	if len(raw.Routeragents) == 0 {
		f.Errorf("routeragents", "missing: the https:// URLs of every routeragent to report to")
	}
	for i, r := range raw.Routeragents {
		if u, err := url.Parse(r); err != nil || u.Scheme != "https" || u.Host == "" {
			f.Errorf(fmt.Sprintf("routeragents[%d]", i), "%q is not an https:// URL", r)
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadSecrets reads the vCenter password. The hostagent calls it when it
// starts; --check-config only warns, since a credential exists only
// under systemd.
func (c *Config) ReadSecrets() error {
	pw, err := config.ReadSecret(c.VCenter.PasswordFile)
	if err != nil {
		return fmt.Errorf("vcenter.password_file: %w", err)
	}
	c.VCenter.Password = pw
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
