// Command vmroute-hostagent watches the VMs of its vSphere clusters and
// reports them, and every landing, to every routeragent.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vmroute/vmroute/hostagent/agent"
	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/preflight"
	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/shared/logging"
	"github.com/vmroute/vmroute/shared/version"
)

func main() {
	configPath := flag.String("config", config.DefaultPath, "configuration `file`")
	checkConfig := flag.Bool("check-config", false, "validate the configuration and exit")
	check := flag.Bool("check", false, "preflight: check vCenter, the clusters and every routeragent live, print one line per check, and exit non-zero on any FAIL; sends no report")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("vmroute-hostagent"))
		return
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *check {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		failed := false
		for _, r := range preflight.Run(ctx, cfg, slog.New(slog.DiscardHandler)) {
			fmt.Println(r)
			failed = failed || r.Level == preflight.Fail
		}
		if failed {
			os.Exit(1)
		}
		return
	}
	if *checkConfig {
		if err := cfg.ReadSecrets(); err != nil {
			fmt.Fprintf(os.Stderr, "warning: %v (fine if systemd provides it as a credential)\n", err)
		}
		fmt.Printf("%s: configuration is valid: %d clusters, %d routeragents\n", *configPath, len(cfg.Clusters), len(cfg.Routeragents))
		for _, c := range cfg.Clusters {
			if c.Sites.By == sitemap.Cluster {
				fmt.Printf("  cluster %s: every host at site %s\n", c.Name, c.Sites.Site)
				continue
			}
			fmt.Printf("  cluster %s: hosts placed by %s:", c.Name, c.Sites.By)
			for _, site := range c.Sites.SitesOf() {
				fmt.Printf(" site %s %q", site, c.Sites.Sites[site])
			}
			fmt.Println()
		}
		return
	}
	log, _, err := logging.Setup(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := run(cfg, *configPath, log); err != nil {
		log.Error("hostagent stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT. SIGHUP reads the configuration
// again and, when it is valid, restarts the agent on it: a new vCenter
// session, and full reports to every routeragent.
func run(cfg *config.Config, path string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	watchdog, _ := daemon.SdWatchdogEnabled(false)
	for {
		a, err := agent.New(cfg, log)
		if err != nil {
			return err
		}
		actx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(actx, func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) }) }()
		tick := time.NewTicker(time.Second)
		var next *config.Config
	serve:
		for {
			select {
			case err := <-done:
				tick.Stop()
				cancel()
				_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
				return err
			case <-hup:
				_, _ = daemon.SdNotify(false, daemon.SdNotifyReloading)
				c, err := config.Load(path)
				if err != nil {
					log.Error("reload failed: the running configuration stays", "err", err)
					_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
					continue
				}
				next = c
				break serve
			case <-tick.C:
				st := a.Status()
				if watchdog > 0 {
					_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
				}
				insync := 0
				for _, r := range st.Routeragents {
					if r.InSync {
						insync++
					}
				}
				_, _ = daemon.SdNotify(false, fmt.Sprintf("STATUS=vCenter connected: %v, %d VMs, %d landings, %d/%d routeragents in sync",
					st.VCenter.Connected, st.VCenter.VMs, st.VCenter.Landings, insync, len(st.Routeragents)))
			}
		}
		tick.Stop()
		cancel()
		<-done
		cfg = next
		log.Info("configuration reloaded")
	}
}
