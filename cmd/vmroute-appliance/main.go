// Command vmroute-appliance runs the hostagent appliance's own steps:
// configure (at every boot, from the OVF properties the vSphere admin
// filled in), time (the clock's source), console (the status screen on
// tty1); for the admin, update (newer .deb files) and support (the
// support bundle); and, at build time, ova (the OVA around the
// appliance's disk).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/vmroute/vmroute/shared/version"
)

const usage = `usage: vmroute-appliance configure [-env FILE]
       vmroute-appliance time
       vmroute-appliance console [-tty DEV]...
       vmroute-appliance update HOSTAGENT.deb VMROUTECTL.deb
       vmroute-appliance support [-o FILE]
       vmroute-appliance ova -vmdk DISK -capacity BYTES -populated BYTES -version V -o FILE.ova
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fs := flag.NewFlagSet("vmroute-appliance "+os.Args[1], flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	var err error
	switch os.Args[1] {
	case "configure":
		env := fs.String("env", "", "read the OVF environment from this file instead of VMware Tools or the CD-ROM")
		_ = fs.Parse(os.Args[2:])
		err = configure(log, *env)
	case "time":
		_ = fs.Parse(os.Args[2:])
		err = timeStep(log)
	case "update":
		_ = fs.Parse(os.Args[2:])
		err = update(fs.Args())
	case "support":
		out := fs.String("o", "", "the bundle's file, - for stdout (default vmroute-support-HOST-TIME.tar.gz here)")
		_ = fs.Parse(os.Args[2:])
		err = supportBundle(*out)
	case "console":
		var ttys ttyList
		fs.Var(&ttys, "tty", "a terminal to show the status on (repeatable; one that cannot be opened is skipped)")
		_ = fs.Parse(os.Args[2:])
		if len(ttys) == 0 {
			ttys = ttyList{"/dev/tty1"}
		}
		err = console(ttys)
	case "ova":
		vmdk := fs.String("vmdk", "", "the appliance's disk, a streamOptimized VMDK")
		capacity := fs.Int64("capacity", 0, "the disk's capacity in bytes")
		populated := fs.Int64("populated", 0, "the bytes of the disk that hold data")
		ver := fs.String("version", version.Version, "the appliance's version")
		out := fs.String("o", "", "the OVA to write")
		_ = fs.Parse(os.Args[2:])
		if *vmdk == "" || *capacity <= 0 || *populated <= 0 || *populated > *capacity || *out == "" {
			fs.Usage()
			os.Exit(2)
		}
		err = ova(*vmdk, *capacity, *populated, *ver, *out)
	case "-version", "--version":
		fmt.Println(version.String("vmroute-appliance"))
		return
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		log.Error(os.Args[1]+" failed", "err", err)
		os.Exit(1)
	}
}

type ttyList []string

func (t *ttyList) String() string     { return fmt.Sprint(*t) }
func (t *ttyList) Set(s string) error { *t = append(*t, s); return nil }
