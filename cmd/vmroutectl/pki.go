package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/vmroute/vmroute/shared/pki"
)

const pkiUsage = `usage:
  vmroutectl pki init [-dir DIR] [-valid DURATION]
  vmroutectl pki issue routeragent NAME -san HOST[,ADDR...] [-dir DIR] [-valid DURATION]
  vmroutectl pki issue hostagent CLUSTER [-dir DIR] [-valid DURATION]
  vmroutectl pki issue operator NAME [-dir DIR] [-valid DURATION]

A small CA for vmroute's mutual TLS, kept in DIR (ca.crt, ca.key): run it
on an admin machine, and copy each certificate and key to where it is
used. Keys are written with mode 0600. It prints the configuration lines
that name each certificate.

Flags:
`

// runPKI runs "vmroutectl pki ...".
func runPKI(args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("vmroutectl pki", flag.ContinueOnError)
	fs.SetOutput(errOut)
	dir := fs.String("dir", "vmroute-pki", "the CA's `directory`")
	valid := fs.Duration("valid", pki.DefaultValidity, "how long a certificate is valid, at most as long as the CA (init: the CA's own, 10 years unless given)")
	san := fs.String("san", "", "a routeragent's host names and addresses, comma-separated, as the hostagents reach it")
	fs.Usage = func() {
		fmt.Fprint(errOut, pkiUsage)
		fs.PrintDefaults()
	}
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		words, args = append(words, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case len(words) == 1 && words[0] == "init":
		caValid := 10 * pki.DefaultValidity
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "valid" {
				caValid = *valid
			}
		})
		ca, err := pki.Init(*dir, caValid)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "CA made: %s (its key, %s, stays here)\n", ca.CAFile(), filepath.Join(ca.Dir, "ca.key"))
		fmt.Fprintf(out, "Copy %s to /etc/vmroute/tls/ca.crt on every routeragent and hostagent.\n", ca.CAFile())
		return nil
	case len(words) == 3 && words[0] == "issue":
		kind, name := pki.Kind(words[1]), words[2]
		ca, err := pki.Load(*dir)
		if err != nil {
			return err
		}
		var sans []string
		if *san != "" {
			sans = strings.Split(*san, ",")
		}
		identity := name
		if kind == pki.Hostagent {
			identity = "hostagent:" + name
		}
		if kind == pki.Routeragent && len(sans) == 0 {
			return errors.New("a routeragent's certificate needs -san: the names and addresses the hostagents reach it at")
		}
		certFile, keyFile, err := ca.Issue(kind, identity, sans, *valid)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Issued %s (key %s) for %s %q.\n\n", certFile, keyFile, kind, identity)
		printLines(out, kind, name, identity, certFile, keyFile, sans)
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown pki command %q", strings.Join(words, " "))
}

func printLines(out io.Writer, kind pki.Kind, name, identity, certFile, keyFile string, sans []string) {
	switch kind {
	case pki.Routeragent:
		fmt.Fprintf(out, `On routeragent %[1]s: copy %[2]s to /etc/vmroute/tls/routeragent.crt and %[3]s to
/etc/vmroute/tls/routeragent.key (chown root:vmroute-routeragent, chmod 0640); in its routeragent.toml:
[api]
cert_file = "/etc/vmroute/tls/routeragent.crt"
key_file = "/etc/vmroute/tls/routeragent.key"
client_ca_file = "/etc/vmroute/tls/ca.crt"

On every other routeragent, under [api]:
peers = [%[4]q]

On every hostagent, in routeragents:
"https://%[5]s:8443"
`, name, certFile, keyFile, identity, sans[0])
	case pki.Hostagent:
		fmt.Fprintf(out, `On the hostagent of cluster %[1]s: copy %[2]s to /etc/vmroute/tls/hostagent.crt and %[3]s to
/etc/vmroute/tls/hostagent.key (chown root:vmroute-hostagent, chmod 0640); in its hostagent.toml:
[tls]
cert_file = "/etc/vmroute/tls/hostagent.crt"
key_file = "/etc/vmroute/tls/hostagent.key"
ca_file = "/etc/vmroute/tls/ca.crt"

On every routeragent, the cluster's entry:
[[clusters]]
name = %[1]q
clients = [%[4]q]
`, name, certFile, keyFile, identity)
	case pki.Operator:
		fmt.Fprintf(out, `On every routeragent this operator reads, under [api]:
operators = [%[1]q]

Then, from the operator's machine:
vmroutectl -url https://ROUTERAGENT:8443 -cert %[2]s -key %[3]s -ca %[4]s status
`, identity, certFile, keyFile, filepath.Join(filepath.Dir(certFile), "ca.crt"))
	}
}
