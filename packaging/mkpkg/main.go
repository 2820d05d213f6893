// Command mkpkg builds the vmroute packages, .deb and .rpm for each
// architecture, from the nfpm definitions beside it (routeragent.yaml,
// hostagent.yaml, vmroutectl.yaml). It lives in its own Go module so that nfpm's
// dependencies never reach the agents'.
//
//	go run ./mkpkg -version 0.1.0 -release 7 -bin ../bin -out ../dist [-sign KEY]
//
// expects the binaries in BIN/linux-ARCH/ and runs from packaging/. With
// -sign, the .rpm files are signed with the ASCII-armored OpenPGP secret
// key in KEY (its passphrase, if any, in $VMROUTE_SIGNING_PASSPHRASE).
// `mkpkg -genkey FILE` writes a new, unprotected signing key to FILE and
// its public half to FILE.pub, for tests.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

func main() {
	version := flag.String("version", "0.1.0", "package version")
	release := flag.String("release", "1", "package release")
	arches := flag.String("arch", "amd64,arm64", "architectures, comma-separated")
	bin := flag.String("bin", "../bin", "directory holding linux-ARCH/ binaries")
	out := flag.String("out", "../dist", "output directory")
	sign := flag.String("sign", "", "ASCII-armored OpenPGP secret key file to sign the .rpm files with")
	genkey := flag.String("genkey", "", "write a new test signing key to this file (and its public key to FILE.pub), and exit")
	flag.Parse()
	var err error
	if *genkey != "" {
		err = genKey(*genkey)
	} else {
		err = run(*version, *release, strings.Split(*arches, ","), *bin, *out, *sign)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkpkg:", err)
		os.Exit(1)
	}
}

func run(version, release string, arches []string, bin, out, sign string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, pkg := range packages {
		name := strings.TrimPrefix(pkg, "vmroute-")
		work, err := os.MkdirTemp("", "mkpkg-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if err := writeWork(work, pkg); err != nil {
			return err
		}
		def, err := os.ReadFile(name + ".yaml")
		if err != nil {
			return err
		}
		for _, arch := range arches {
			vars := map[string]string{"ARCH": arch, "VERSION": version, "RELEASE": release,
				"BIN": filepath.Join(bin, "linux-"+arch), "WORK": work}
			cfg, err := nfpm.Parse(strings.NewReader(os.Expand(string(def), func(k string) string { return vars[k] })))
			if err != nil {
				return fmt.Errorf("%s.yaml: %w", name, err)
			}
			if sign != "" {
				cfg.RPM.Signature.KeyFile = sign
				cfg.RPM.Signature.KeyPassphrase = os.Getenv("VMROUTE_SIGNING_PASSPHRASE")
			}
			for _, format := range []string{"deb", "rpm"} {
				if err := pack(cfg, format, out); err != nil {
					return fmt.Errorf("%s %s %s: %w", name, arch, format, err)
				}
			}
		}
	}
	return nil
}

func pack(cfg nfpm.Config, format, out string) error {
	info, err := cfg.Get(format)
	if err != nil {
		return err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return err
	}
	p, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	path := filepath.Join(out, p.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	fmt.Println(path)
	return f.Close()
}

// packages are the packages mkpkg builds, each from NAME.yaml without
// its vmroute- prefix: the agents, and vmroutectl, which both depend on.
var packages = []string{"vmroute-routeragent", "vmroute-hostagent", "vmroutectl"}

// writeWork writes the package's gzipped man page, its lintian overrides
// and, for an agent, its maintainer scripts (with its name) into work.
func writeWork(work, name string) error {
	page := name + ".8"
	if name == "vmroutectl" {
		page = name + ".1"
	}
	if err := gzipFile(filepath.Join("man", page), filepath.Join(work, page+".gz")); err != nil {
		return err
	}
	// Go binaries are static by design.
	overrides := fmt.Sprintf("%[1]s: statically-linked-binary [usr/bin/%[1]s]\n", name)
	if err := os.WriteFile(filepath.Join(work, "lintian-overrides"), []byte(overrides), 0o644); err != nil {
		return err
	}
	if name == "vmroutectl" {
		return nil
	}
	for _, s := range []string{"preinst.sh", "postinst.sh", "prerm.sh", "postrm.sh"} {
		b, err := os.ReadFile(filepath.Join("scripts", s))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(work, s), []byte(strings.ReplaceAll(string(b), "@NAME@", name)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// gzipFile compresses src into dst at the best level, with no name or
// time in the header, so that builds are reproducible.
func gzipFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// genKey writes a new RSA signing key, without a passphrase, to path and
// its public key to path.pub, both ASCII-armored.
func genKey(path string) error {
	e, err := openpgp.NewEntity("vmroute test signing key", "tests only", "test@vmroute.invalid", &packet.Config{RSABits: 3072})
	if err != nil {
		return err
	}
	write := func(path, kind string, f func(io.Writer) error) error {
		var buf bytes.Buffer
		w, err := armor.Encode(&buf, kind, nil)
		if err != nil {
			return err
		}
		if err := f(w); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		return os.WriteFile(path, buf.Bytes(), 0o600)
	}
	if err := write(path, openpgp.PrivateKeyType, func(w io.Writer) error { return e.SerializePrivate(w, nil) }); err != nil {
		return err
	}
	return write(path+".pub", openpgp.PublicKeyType, e.Serialize)
}
