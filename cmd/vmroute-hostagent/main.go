// Command vmroute-hostagent watches the VMs of its vSphere clusters and
// reports them to every routeragent.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/shared/version"
)

func main() {
	configPath := flag.String("config", config.DefaultPath, "configuration `file`")
	checkConfig := flag.Bool("check-config", false, "validate the configuration and exit")
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
	if *checkConfig {
		fmt.Printf("%s: configuration is valid: %d clusters, %d routeragents\n", *configPath, len(cfg.Clusters), len(cfg.Routeragents))
		return
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "vmroute-hostagent:", err)
		os.Exit(1)
	}
}

func run(*config.Config) error {
	return errors.New("watching vCenter is not built yet; it arrives with issue #6")
}
