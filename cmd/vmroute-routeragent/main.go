// Command vmroute-routeragent runs on a site router: it plans the routes
// and gateway announcements for the VMs the hostagents report.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/shared/version"
)

func main() {
	configPath := flag.String("config", config.DefaultPath, "configuration `file`")
	checkConfig := flag.Bool("check-config", false, "validate the configuration and exit")
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
	if *checkConfig {
		fmt.Printf("%s: configuration is valid: site %s, %d subnets, %d clusters, %d BGP neighbors\n",
			*configPath, cfg.Site, len(cfg.Plan.Subnets), len(cfg.Clusters), len(cfg.BGP.Neighbors))
		return
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "vmroute-routeragent:", err)
		os.Exit(1)
	}
}

func run(*config.Config) error {
	return errors.New("serving is not built yet; it arrives with issue #5")
}
