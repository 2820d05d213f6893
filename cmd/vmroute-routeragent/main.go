// Command vmroute-routeragent runs on a site router: it takes the
// hostagents' reports, plans the routes and gateway announcements of the
// VMs at its site, and applies them with BGP and gratuitous ARP / NA.
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

	"github.com/vmroute/vmroute/routeragent/config"
	agent "github.com/vmroute/vmroute/routeragent/daemon"
	"github.com/vmroute/vmroute/shared/logging"
	"github.com/vmroute/vmroute/shared/version"
)

func main() {
	configPath := flag.String("config", config.DefaultPath, "configuration `file`")
	checkConfig := flag.Bool("check-config", false, "validate the configuration and exit")
	check := flag.Bool("check", false, "preflight: check this router's certificate, interfaces, gateways, next hops and BGP neighbors live, print one line per check, and exit non-zero on any FAIL; announces nothing")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("vmroute-routeragent"))
		return
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *check {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		lines, failed := agent.Preflight(ctx, cfg)
		for _, l := range lines {
			fmt.Println(l)
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
		fmt.Printf("%s: configuration is valid: site %s, %d subnets, %d clusters, %d BGP neighbors\n",
			*configPath, cfg.Site, len(cfg.Plan.Subnets), len(cfg.Clusters), len(cfg.BGP.Neighbors))
		for _, w := range agent.Msgs(agent.LocalChecks(cfg)) {
			fmt.Fprintf(os.Stderr, "warning: %s (fine if this is not the router it is for)\n", w)
		}
		return
	}
	log, level, err := logging.Setup(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := run(cfg, *configPath, log, level); err != nil {
		log.Error("routeragent stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT; SIGHUP reloads the configuration,
// keeping the old one when the new one is broken.
func run(cfg *config.Config, path string, log *slog.Logger, level *slog.LevelVar) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := agent.New(cfg, log)
	if err != nil {
		return err
	}
	d.LogLevel = level
	watchdog, _ := daemon.SdWatchdogEnabled(false)
	lastPing := time.Time{}
	d.OnTick = func(status string) {
		if watchdog > 0 && time.Since(lastPing) >= watchdog/2 {
			_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			lastPing = time.Now()
		}
		_, _ = daemon.SdNotify(false, "STATUS="+status)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_, _ = daemon.SdNotify(false, daemon.SdNotifyReloading)
			next, err := config.Load(path)
			if err == nil {
				err = d.Reload(ctx, next)
			}
			if err != nil {
				log.Error("reload failed: the running configuration stays", "err", err)
			}
			_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
		}
	}()
	err = d.Run(ctx, func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) })
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	return err
}
