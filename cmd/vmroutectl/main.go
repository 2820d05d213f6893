// Command vmroutectl shows the state of a vmroute agent to operators.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vmroute/vmroute/shared/version"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("vmroutectl"))
		return
	}
	fmt.Fprintln(os.Stderr, "vmroutectl: the status commands arrive with issue #5; only --version works yet")
	os.Exit(2)
}
