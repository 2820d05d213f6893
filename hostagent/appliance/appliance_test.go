package appliance

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hostconfig "github.com/vmroute/vmroute/hostagent/config"
)

// pems returns a self-signed certificate and its key, PEM, with their
// line breaks turned into spaces, as the deploy wizard's one-line fields
// hand them over.
func pems(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hostagent:stretched"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	oneLine := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " ") }
	return oneLine(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		oneLine(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

const thumb = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"

func good(t *testing.T) map[string]string {
	cert, key := pems(t)
	return map[string]string{
		"vcenter.url": "https://vcenter.example.net/sdk", "vcenter.user": "vmroute@vsphere.local",
		"vcenter.password": "s3cret pass", "vcenter.thumbprint": strings.ToLower(thumb),
		"cluster.path": "/DC1/host/Stretched", "cluster.name": "stretched",
		"cluster.sites_by": "host_group", "cluster.sites": "A=hosts-a, hosts-a2; B=hosts-b",
		"routeragents": "https://router-a1.example.net:8443, https://router-b1.example.net:8443",
		"tls.cert":     cert, "tls.key": key, "tls.ca": cert,
		"net.mode": "static", "net.address": "192.0.2.20/24", "net.gateway": "192.0.2.1",
		"net.dns": "192.0.2.53", "net.ntp": "ntp1.example.net, ntp2.example.net",
		"access.ssh": "false",
	}
}

// render renders properties from an environment without an adapter
// section.
func render(p map[string]string) (*Setup, error) { return Render(&Environment{Properties: p}) }

func file(t *testing.T, s *Setup, path string) File {
	t.Helper()
	i := slices.IndexFunc(s.Files, func(f File) bool { return f.Path == path })
	if i < 0 {
		t.Fatalf("no %s rendered", path)
	}
	return s.Files[i]
}

// TestRender renders good properties into files the hostagent loads,
// with the PEM restored and the secrets readable by root (and the
// service's group, for the TLS key) alone.
func TestRender(t *testing.T) {
	s, err := render(good(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := file(t, s, ConfigFile).Content
	// The files where the configuration names them, under dir.
	conf = bytes.ReplaceAll(conf, []byte("/etc/vmroute/"), []byte(dir+"/"))
	for _, f := range s.Files {
		if strings.HasPrefix(f.Path, "/etc/vmroute/") {
			p := filepath.Join(dir, strings.TrimPrefix(f.Path, "/etc/vmroute/"))
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, f.Content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(dir, "hostagent.toml")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := hostconfig.Load(path)
	if err != nil {
		t.Fatalf("the hostagent refuses the rendered configuration: %v\n%s", err, conf)
	}
	if cfg.VCenter.Thumbprint != thumb || len(cfg.Routeragents) != 2 || len(cfg.Clusters) != 1 ||
		cfg.Clusters[0].Name != "stretched" || !slices.Equal(cfg.Clusters[0].Sites.Sites["A"], []string{"hosts-a", "hosts-a2"}) {
		t.Errorf("rendered configuration:\n%s", conf)
	}
	if cfg.StatusListen != StatusListen {
		t.Errorf("status listens on %q, want loopback %q", cfg.StatusListen, StatusListen)
	}
	if f := file(t, s, PasswordFile); string(f.Content) != "s3cret pass" || f.Mode != 0o600 || f.Group != "" {
		t.Errorf("password file: %q mode %o group %q", f.Content, f.Mode, f.Group)
	}
	if f := file(t, s, TLSDir+"/hostagent.key"); f.Mode != 0o640 || f.Group != "vmroute-hostagent" || !strings.Contains(string(f.Content), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("key file: mode %o group %q", f.Mode, f.Group)
	}
	if strings.Contains(string(file(t, s, ConfigFile).Content), "s3cret") {
		t.Error("the password is in the configuration")
	}
	net := string(file(t, s, NetworkFile).Content)
	for _, want := range []string{"Address=192.0.2.20/24", "Gateway=192.0.2.1", "DNS=192.0.2.53", "LLMNR=no"} {
		if !strings.Contains(net, want) {
			t.Errorf("network file lacks %q:\n%s", want, net)
		}
	}
	if ts := string(file(t, s, TimesyncFile).Content); !strings.Contains(ts, "\nNTP=ntp1.example.net ntp2.example.net\n") || !strings.Contains(ts, "\nFallbackNTP=\n") {
		t.Errorf("timesyncd: %s", ts)
	}
	if !slices.Equal(s.NTP, []string{"ntp1.example.net", "ntp2.example.net"}) {
		t.Errorf("NTP servers %q", s.NTP)
	}
	if h := string(file(t, s, HostsFile).Content); !strings.Contains(h, "127.0.1.1\tvmroute-hostagent\n") {
		t.Errorf("hosts file:\n%s", h)
	}
	if s.SSH || s.Hostname != "vmroute-hostagent" || s.RootPassword != "" {
		t.Errorf("setup: ssh %t, host name %q", s.SSH, s.Hostname)
	}
	checkFiles(t, s)
	// With vCenter's CA and an SSH key, their files too.
	p := good(t)
	p["vcenter.thumbprint"], p["vcenter.ca"] = "", p["tls.ca"]
	p["access.ssh"], p["access.ssh_key"] = "true", sshKey
	s, err = render(p)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, s)
}

// checkFiles checks every file Render writes against one table: where,
// with which mode and group. Secrets are readable by root and, where the
// hostagent reads them, by its group; nothing else is written.
func checkFiles(t *testing.T, s *Setup) {
	t.Helper()
	type want struct {
		mode  uint32
		group string
	}
	table := map[string]want{
		ConfigFile:                 {0o644, ""},
		PasswordFile:               {0o600, ""},
		TLSDir + "/hostagent.crt":  {0o640, "vmroute-hostagent"},
		TLSDir + "/hostagent.key":  {0o640, "vmroute-hostagent"},
		TLSDir + "/ca.crt":         {0o644, "vmroute-hostagent"},
		TLSDir + "/vcenter-ca.crt": {0o644, ""},
		NetworkFile:                {0o644, ""},
		TimesyncFile:               {0o644, ""},
		ResolvedFile:               {0o644, ""},
		HostsFile:                  {0o644, ""},
		AuthorizedKeys:             {0o600, ""},
	}
	optional := map[string]bool{TLSDir + "/vcenter-ca.crt": true, AuthorizedKeys: true}
	seen := map[string]bool{}
	for _, f := range s.Files {
		seen[f.Path] = true
		w, ok := table[f.Path]
		if !ok {
			t.Errorf("%s (mode %o, group %q) is in no row of the table", f.Path, f.Mode, f.Group)
			continue
		}
		if f.Mode != w.mode || f.Group != w.group {
			t.Errorf("%s: mode %o group %q, want %o %q", f.Path, f.Mode, f.Group, w.mode, w.group)
		}
	}
	for path := range table {
		if !seen[path] && !optional[path] {
			t.Errorf("%s not written", path)
		}
	}
}

// TestRenderDefaults: DHCP, SSH off and a cluster at one site when only
// what is required is set.
func TestRenderDefaults(t *testing.T) {
	p := good(t)
	for _, k := range []string{"net.mode", "net.address", "net.gateway", "net.dns", "net.ntp", "access.ssh", "cluster.sites_by", "cluster.sites", "cluster.name"} {
		delete(p, k)
	}
	p["cluster.site"] = "A"
	s, err := render(p)
	if err != nil {
		t.Fatal(err)
	}
	if net := string(file(t, s, NetworkFile).Content); !strings.Contains(net, "DHCP=yes") || strings.Contains(net, "Address=") {
		t.Errorf("network file:\n%s", net)
	}
	if s.SSH {
		t.Error("SSH on by default")
	}
	if ts := string(file(t, s, TimesyncFile).Content); ts != "[Time]\nFallbackNTP=\n" || s.NTP != nil {
		t.Errorf("timesyncd without NTP servers (%q):\n%s", s.NTP, ts)
	}
	if conf := string(file(t, s, ConfigFile).Content); !strings.Contains(conf, `site = "A"`) || strings.Contains(conf, "sites_by") {
		t.Errorf("configuration:\n%s", conf)
	}
}

// TestRenderRefuses names the property of each problem, and never shows
// a secret's value.
func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no vCenter URL", map[string]string{"vcenter.url": ""}, "property vcenter.url: required"},
		{"http vCenter URL", map[string]string{"vcenter.url": "http://vc/sdk"}, `property vcenter.url: "http://vc/sdk" is not an https URL`},
		{"no password", map[string]string{"vcenter.password": " "}, "property vcenter.password: required"},
		{"both checks", map[string]string{"vcenter.ca": "x"}, "property vcenter.thumbprint: set the thumbprint or vcenter.ca, not both"},
		{"no check", map[string]string{"vcenter.thumbprint": ""}, "property vcenter.thumbprint: set the thumbprint of vCenter's certificate, or vcenter.ca"},
		{"short thumbprint", map[string]string{"vcenter.thumbprint": "AB:CD"}, `property vcenter.thumbprint: "AB:CD" is not a SHA-1 thumbprint`},
		{"bad CA", map[string]string{"vcenter.thumbprint": "", "vcenter.ca": "hello"}, "property vcenter.ca: not PEM: no -----BEGIN line"},
		{"site and sites", map[string]string{"cluster.site": "A"}, "property cluster.site: set the site of a cluster at one site, or cluster.sites_by and cluster.sites for a stretched one, not both"},
		{"neither site nor sites", map[string]string{"cluster.sites": ""}, "property cluster.site: set the site of a cluster at one site, or cluster.sites_by and cluster.sites for a stretched one"},
		{"sites by rack", map[string]string{"cluster.sites_by": "rack"}, `property cluster.sites_by: "rack" is not one of none, host_group, fault_domain, host_name`},
		{"sites by none", map[string]string{"cluster.sites_by": "none"}, "property cluster.site: set the site of a cluster at one site, or cluster.sites_by and cluster.sites for a stretched one"},
		{"one site", map[string]string{"cluster.sites": "A=hosts-a"}, "property cluster.sites: a stretched cluster spans two sites or more"},
		{"site without groups", map[string]string{"cluster.sites": "A=hosts-a;B="}, "property cluster.sites: site B names no host group"},
		{"sites not SITE=", map[string]string{"cluster.sites": "hosts-a;B=b"}, `property cluster.sites: "hosts-a" is not SITE=item,item`},
		{"no routeragents", map[string]string{"routeragents": ""}, "property routeragents: required"},
		{"http routeragent", map[string]string{"routeragents": "https://a:8443,http://b:8443"}, `property routeragents: "http://b:8443" is not an https URL`},
		{"key as certificate", map[string]string{"tls.cert": "-----BEGIN PRIVATE KEY----- czNjcmV0 -----END PRIVATE KEY-----"}, "property tls.cert: PEM of PRIVATE KEY, want CERTIFICATE"},
		{"broken key", map[string]string{"tls.key": "-----BEGIN PRIVATE KEY----- s3cret!! -----END PRIVATE KEY-----"}, "property tls.key: PEM of PRIVATE KEY whose content is not base64"},
		{"key not ended", map[string]string{"tls.key": "-----BEGIN PRIVATE KEY----- czNjcmV0"}, "property tls.key: not PEM: no -----END PRIVATE KEY----- line"},
		// Issue 28: the BEGIN line without its dashes made the key the label.
		{"BEGIN line not ended", map[string]string{"tls.key": "-----BEGIN PRIVATE KEY czNjcmV0 czNjcmV0 -----END PRIVATE KEY-----"}, "property tls.key: not PEM: the BEGIN line is not -----BEGIN PRIVATE KEY-----"},
		{"certificate's BEGIN line not ended", map[string]string{"tls.cert": "-----BEGIN CERTIFICATE czNjcmV0\n-----END CERTIFICATE-----"}, "property tls.cert: not PEM: the BEGIN line is not -----BEGIN CERTIFICATE-----"},
		{"static without address", map[string]string{"net.address": ""}, `property net.address: static addressing needs an address with its prefix length (192.0.2.20/24): ""`},
		{"gateway of the other family", map[string]string{"net.gateway": "2001:db8::1"}, `property net.gateway: "2001:db8::1" is not an address of the same family as net.address`},
		{"mode", map[string]string{"net.mode": "bootp"}, `property net.mode: "bootp" is not dhcp or static`},
		{"DNS name", map[string]string{"net.dns": "dns.example.net"}, `property net.dns: "dns.example.net" is not an address`},
		{"host name", map[string]string{"net.hostname": "a_b"}, `property net.hostname: "a_b" is not a host name nor an FQDN`},
		{"FQDN with an empty label", map[string]string{"net.hostname": "ha1..example.net"}, `property net.hostname: "ha1..example.net" is not a host name nor an FQDN`},
		{"FQDN too long", map[string]string{"net.hostname": strings.Repeat("a.", 127)}, "property net.hostname: longer than 253 characters"},
		{"thumbprint too long", map[string]string{"vcenter.thumbprint": thumb + ":AB"}, "property vcenter.thumbprint: longer than 59 characters"},
		{"password with a line break", map[string]string{"access.root_password": "s3cret\nroot2:x"}, "property access.root_password: holds a line break"},
		{"ssh maybe", map[string]string{"access.ssh": "maybe"}, `property access.ssh: "maybe" is not true or false`},
		{"ssh with no key", map[string]string{"access.ssh": "true"}, "property access.ssh_key: required when access.ssh is on: root logs in over SSH by key only"},
		// Debian's sshd takes no password for root: a password is no way in.
		{"ssh with a password only", map[string]string{"access.ssh": "true", "access.root_password": "s3cret"}, "property access.ssh_key: required when access.ssh is on"},
		{"ssh key", map[string]string{"access.ssh_key": "s3cret-not-a-key"}, "property access.ssh_key: not an SSH public key"},
		{"unknown property", map[string]string{"vcenter.passwd": "s3cret"}, "property vcenter.passwd: not a property of this appliance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good(t)
			for k, v := range tt.set {
				p[k] = v
			}
			_, err := render(p)
			if err == nil {
				t.Fatalf("accepted; want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if leak := secretIn(err.Error(), "s3cret"); leak != "" {
				t.Errorf("the error shows a secret (%s): %q", leak, err)
			}
		})
	}
}

// TestRenderNIC: static addressing goes to the environment's NIC by its
// MAC, never to a second NIC.
func TestRenderNIC(t *testing.T) {
	s, err := Render(&Environment{Properties: good(t), MAC: "00:50:56:8f:00:01"})
	if err != nil {
		t.Fatal(err)
	}
	if net := string(file(t, s, NetworkFile).Content); !strings.Contains(net, "[Match]\nMACAddress=00:50:56:8f:00:01\n") || strings.Contains(net, "Name=") {
		t.Errorf("network file:\n%s", net)
	}
}

// TestRenderAccess: the host name as an FQDN, and root's password as a
// crypt hash, which chpasswd -e sets as it is.
func TestRenderAccess(t *testing.T) {
	p := good(t)
	p["net.hostname"] = "vmroute-ha1.example.net"
	p["access.root_password"] = "$6$rounds=5000$saltsalt$wXGfsTmXUg3f1Hq0dE5Gc1"
	s, err := render(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hostname != "vmroute-ha1" || !s.RootPasswordHashed {
		t.Errorf("host name %q, password hashed %t", s.Hostname, s.RootPasswordHashed)
	}
	if h := string(file(t, s, HostsFile).Content); !strings.Contains(h, "127.0.1.1\tvmroute-ha1.example.net vmroute-ha1\n") {
		t.Errorf("hosts file:\n%s", h)
	}
	for pw, hashed := range map[string]bool{"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7": true,
		"$2b$12$KIXQJ1r8Xj0mN8m3bH0.2uT1Zc9H8pD3sKqZ5mJvC3nEw0dY6yHcK": true, "s3cret": false, "$6$": false, "$6$salt$hash with space": false} {
		p["access.root_password"] = pw
		s, err := render(p)
		if err != nil {
			t.Fatal(err)
		}
		if s.RootPasswordHashed != hashed || s.RootPassword != pw {
			t.Errorf("%q: hashed %t, want %t", pw, s.RootPasswordHashed, hashed)
		}
	}
}

// TestRequired: a property is required in the wizard (MinLen(1)) exactly
// when Render refuses it blank.
func TestRequired(t *testing.T) {
	for _, p := range Properties {
		props := good(t)
		props[p.Key] = ""
		_, err := render(props)
		refused := err != nil && strings.Contains(err.Error(), "property "+p.Key+": required")
		if refused != p.Required {
			t.Errorf("%s: Required %t, but blank it is refused: %t (%v)", p.Key, p.Required, refused, err)
		}
		if slices.Contains(p.Choices, "") {
			t.Errorf("%s offers an empty choice", p.Key)
		}
		if len(p.Choices) > 0 && !slices.Contains(p.Choices, p.Default) {
			t.Errorf("%s: default %q is not one of its choices %q", p.Key, p.Default, p.Choices)
		}
	}
}

// TestVMDK reads the header and descriptor of VMDKs in and out of the
// format the OVA declares.
func TestVMDK(t *testing.T) {
	good := vmdkHeader{version: 3, flags: vmdkCompressed | vmdkMarkers | 3, algorithm: 1, createType: "streamOptimized", adapter: "lsilogic"}
	v, err := CheckVMDK(bytes.NewReader(good.bytes()))
	if err != nil || v != (VMDK{CreateType: "streamOptimized", AdapterType: "lsilogic"}) {
		t.Fatalf("a streamOptimized VMDK for SCSI: %+v, %v", v, err)
	}
	tests := []struct {
		name string
		edit func(*vmdkHeader)
		want string
	}{
		{"raw", func(h *vmdkHeader) { h.magic = 0x12345678 }, "not a sparse extent"},
		{"monolithicSparse", func(h *vmdkHeader) { h.version, h.flags, h.algorithm = 1, 3, 0 }, "version 1, want 3"},
		{"uncompressed", func(h *vmdkHeader) { h.flags &^= vmdkCompressed }, "grains not compressed"},
		{"no markers", func(h *vmdkHeader) { h.flags &^= vmdkMarkers }, "no stream markers"},
		{"not deflate", func(h *vmdkHeader) { h.algorithm = 2 }, "compression algorithm 2"},
		{"not stream", func(h *vmdkHeader) { h.createType = "monolithicSparse" }, `createType "monolithicSparse"`},
		{"IDE", func(h *vmdkHeader) { h.adapter = "ide" }, `ddb.adapterType "ide", want lsilogic`},
		{"no descriptor", func(h *vmdkHeader) { h.noDescriptor = true }, "embedded descriptor at sector 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good
			tt.edit(&h)
			if _, err := CheckVMDK(bytes.NewReader(h.bytes())); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := CheckVMDK(bytes.NewReader([]byte("KDMV"))); err == nil {
		t.Error("a truncated header passes")
	}
}

// vmdkHeader makes a VMDK's first sectors: the sparse extent header and
// the embedded descriptor.
type vmdkHeader struct {
	magic, version, flags uint32
	algorithm             uint16
	createType, adapter   string
	noDescriptor          bool
}

func (h vmdkHeader) bytes() []byte {
	b := make([]byte, 3*512)
	le := binary.LittleEndian
	magic := h.magic
	if magic == 0 {
		magic = vmdkMagic
	}
	le.PutUint32(b[0:], magic)
	le.PutUint32(b[4:], h.version)
	le.PutUint32(b[8:], h.flags)
	if !h.noDescriptor {
		le.PutUint64(b[28:], 1)
		le.PutUint64(b[36:], 2)
	}
	le.PutUint16(b[77:], h.algorithm)
	copy(b[512:], fmt.Sprintf("# Disk DescriptorFile\nversion=1\ncreateType=%q\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = %q\n", h.createType, h.adapter))
	return b
}

// secretIn says in which encoding secret appears in s, or "": plain, in
// base64 (as PEM carries it, with or without padding) or in hex.
func secretIn(s, secret string) string {
	for enc, v := range map[string]string{
		"plain":                  secret,
		"base64":                 base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64 without padding": base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"hex":                    hex.EncodeToString([]byte(secret)),
	} {
		if strings.Contains(s, v) {
			return enc
		}
	}
	return ""
}

// sshKey is an operator's public key.
const sshKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNVhBCieWeAYgYfGw7UKD1IgzTpgBK3qmH8a4HQvKYk operator@example.net"

// TestNormalizePEM gives back, from PEM whose line breaks the wizard
// turned into spaces, what encoding/pem writes: 64 characters a line, for
// every length of content, a full last line included.
func TestNormalizePEM(t *testing.T) {
	for n := 1; n <= 100; n++ {
		want := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: bytes.Repeat([]byte{byte(n)}, n)})
		got, err := normalizePEM(strings.ReplaceAll(string(want), "\n", " "), "CERTIFICATE")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: %q, %v; want %q", n, got, err, want)
		}
	}
}

// TestCategories groups the wizard's properties by category, each
// category once, in the order of its first property, no property lost.
func TestCategories(t *testing.T) {
	var names []string
	n := 0
	for _, c := range categories() {
		if slices.Contains(names, c.Name) {
			t.Errorf("category %q twice", c.Name)
		}
		names = append(names, c.Name)
		for _, p := range c.Properties {
			if p.Category != c.Name {
				t.Errorf("%s of category %q under %q", p.Key, p.Category, c.Name)
			}
			if Properties[n].Key != p.Key {
				t.Errorf("property %d is %s, want %s", n, p.Key, Properties[n].Key)
			}
			n++
		}
	}
	if n != len(Properties) || len(names) < 2 {
		t.Errorf("%d properties in %d categories %q, want all %d", n, len(names), names, len(Properties))
	}
}

// TestQualifiers writes the qualifiers the wizard checks, and none a
// property does not have.
func TestQualifiers(t *testing.T) {
	for _, tt := range []struct {
		p    Property
		want string
	}{
		{Property{Key: "a"}, ""},
		{Property{Key: "a", Required: true, MaxLen: 59}, "MinLen(1),MaxLen(59)"},
		{Property{Key: "a", Choices: []string{"x", "y"}}, `ValueMap{"x","y"}`},
	} {
		if got := qualifiers(tt.p); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.p, got, tt.want)
		}
	}
}
