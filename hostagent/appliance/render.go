package appliance

import (
	"bytes"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/vmware/govmomi/ovf"
)

// Where the rendered files go, inside the appliance.
const (
	ConfigFile     = "/etc/vmroute/hostagent.toml"
	PasswordFile   = "/etc/vmroute/vcenter-password"
	TLSDir         = "/etc/vmroute/tls"
	NetworkFile    = "/etc/systemd/network/10-vmroute-appliance.network"
	TimesyncFile   = "/etc/systemd/timesyncd.conf.d/vmroute-appliance.conf"
	ResolvedFile   = "/etc/systemd/resolved.conf.d/vmroute-appliance.conf"
	HostsFile      = "/etc/hosts"
	AuthorizedKeys = "/root/.ssh/authorized_keys"
	// StatusListen is where the hostagent's status listens: loopback
	// only, where the console and vmroutectl read it.
	StatusListen = "127.0.0.1:9180"
)

// File is one file the configure step writes.
type File struct {
	Path string
	Mode uint32
	// Group, when set, owns the file (the hostagent's group, for what
	// the service reads itself).
	Group   string
	Content []byte
}

// Setup is what an OVF environment asks of the appliance.
type Setup struct {
	Files []File
	// Hostname is the host name, the first label of net.hostname.
	Hostname string
	// RootPassword is empty when root logs in with no password; with
	// RootPasswordHashed it is a crypt hash (chpasswd -e).
	RootPassword       string
	RootPasswordHashed bool
	SSH                bool
	// NTP are the NTP servers of net.ntp; with none, time comes from
	// DHCP's servers or else from the ESXi host (VMware Tools).
	NTP []string
}

// Environment is what the appliance reads of its OVF environment
// document (ovf-env.xml), as vSphere hands it to the guest.
type Environment struct {
	Properties map[string]string
	// MAC is the appliance's own NIC (the OVA's, of the lowest unit
	// number) from the environment's adapter section; empty when the
	// environment has none.
	MAC string
}

// vmwareEnv holds what VMware adds to the OVF environment: its NICs.
type vmwareEnv struct {
	Adapters []struct {
		MAC  string `xml:"http://www.vmware.com/schema/ovfenv mac,attr"`
		Unit int    `xml:"http://www.vmware.com/schema/ovfenv unitNumber,attr"`
	} `xml:"http://www.vmware.com/schema/ovfenv EthernetAdapterSection>Adapter"`
}

// Env reads an OVF environment document.
func Env(r io.Reader) (*Environment, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("OVF environment: %w", err)
	}
	var env ovf.Env
	if err := xml.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("OVF environment: %w", err)
	}
	e := &Environment{Properties: map[string]string{}}
	if env.Property != nil {
		for _, p := range env.Property.Properties {
			e.Properties[p.Key] = p.Value
		}
	}
	var vm vmwareEnv
	if err := xml.Unmarshal(b, &vm); err != nil {
		return nil, fmt.Errorf("OVF environment: %w", err)
	}
	unit := -1
	for _, a := range vm.Adapters {
		mac, err := net.ParseMAC(a.MAC)
		if err != nil || len(mac) != 6 {
			return nil, fmt.Errorf("OVF environment: adapter %d: %q is not a MAC address", a.Unit, a.MAC)
		}
		if unit < 0 || a.Unit < unit {
			unit, e.MAC = a.Unit, mac.String()
		}
	}
	return e, nil
}

// PropertyError is a property whose value the appliance cannot use.
type PropertyError struct {
	Key string
	Err error
}

func (e *PropertyError) Error() string { return fmt.Sprintf("property %s: %v", e.Key, e.Err) }
func (e *PropertyError) Unwrap() error { return e.Err }

// hostagentConfig is the subset of the hostagent's configuration the
// appliance writes.
type hostagentConfig struct {
	StateDir     string   `toml:"state_dir"`
	Routeragents []string `toml:"routeragents"`
	VCenter      struct {
		URL          string `toml:"url"`
		User         string `toml:"user"`
		PasswordFile string `toml:"password_file"`
		CAFile       string `toml:"ca_file,omitempty"`
		Thumbprint   string `toml:"thumbprint,omitempty"`
	} `toml:"vcenter"`
	Clusters []cluster `toml:"clusters"`
	TLS      struct {
		CertFile string `toml:"cert_file"`
		KeyFile  string `toml:"key_file"`
		CAFile   string `toml:"ca_file"`
	} `toml:"tls"`
	Status struct {
		Listen string `toml:"listen"`
	} `toml:"status"`
}

type cluster struct {
	Path    string              `toml:"path"`
	Name    string              `toml:"name,omitempty"`
	Site    string              `toml:"site,omitempty"`
	SitesBy string              `toml:"sites_by,omitempty"`
	Sites   map[string][]string `toml:"sites,omitempty"`
}

// Render checks the environment's properties and makes the appliance's
// setup from them. Every problem is named by its property; a secret's
// value never appears in an error. The hostagent checks the
// configuration itself too (--check-config), which the configure step
// runs next.
func Render(env *Environment) (*Setup, error) {
	props := env.Properties
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &PropertyError{Key: key, Err: fmt.Errorf(format, args...)})
	}
	for key := range props {
		if _, ok := property(key); !ok {
			bad(key, "not a property of this appliance")
		}
	}
	get := func(key string) string {
		p, _ := property(key)
		if v, ok := props[key]; ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return p.Default
	}
	for _, p := range Properties {
		if v := get(p.Key); p.Required && v == "" {
			bad(p.Key, "required")
		} else if p.MaxLen > 0 && len(v) > p.MaxLen {
			bad(p.Key, "longer than %d characters", p.MaxLen)
		}
	}
	s := &Setup{}
	var c hostagentConfig
	c.StateDir = "/var/lib/vmroute-hostagent"
	c.Status.Listen = StatusListen
	c.TLS.CertFile, c.TLS.KeyFile, c.TLS.CAFile = TLSDir+"/hostagent.crt", TLSDir+"/hostagent.key", TLSDir+"/ca.crt"
	c.VCenter.PasswordFile = "vcenter-password" // the unit's credential

	if u := get("vcenter.url"); u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" || pu.Host == "" {
			bad("vcenter.url", "%q is not an https URL (https://vcenter.example.net/sdk)", u)
		}
		c.VCenter.URL = u
	}
	c.VCenter.User = get("vcenter.user")
	if pw := get("vcenter.password"); pw != "" {
		s.Files = append(s.Files, File{Path: PasswordFile, Mode: 0o600, Content: []byte(pw)})
	}
	thumb, ca := get("vcenter.thumbprint"), get("vcenter.ca")
	if thumb != "" && ca != "" {
		bad("vcenter.thumbprint", "set the thumbprint or vcenter.ca, not both")
	} else if thumb == "" && ca == "" {
		bad("vcenter.thumbprint", "set the thumbprint of vCenter's certificate, or vcenter.ca")
	} else if thumb != "" {
		if !thumbprintRE.MatchString(thumb) {
			bad("vcenter.thumbprint", "%q is not a SHA-1 thumbprint (20 bytes in hex, AB:CD:...)", thumb)
		}
		c.VCenter.Thumbprint = strings.ToUpper(thumb)
	} else if b, err := normalizePEM(ca, "CERTIFICATE"); err != nil {
		bad("vcenter.ca", "%v", err)
	} else {
		c.VCenter.CAFile = TLSDir + "/vcenter-ca.crt"
		s.Files = append(s.Files, File{Path: c.VCenter.CAFile, Mode: 0o644, Content: b})
	}

	cl := cluster{Path: get("cluster.path"), Name: get("cluster.name"), Site: get("cluster.site"), SitesBy: get("cluster.sites_by")}
	if p, _ := property("cluster.sites_by"); !slices.Contains(p.Choices, cl.SitesBy) {
		bad("cluster.sites_by", "%q is not one of none, host_group, fault_domain, host_name", cl.SitesBy)
	}
	if cl.SitesBy == "none" {
		cl.SitesBy = ""
	}
	sites := get("cluster.sites")
	if cl.Site != "" && (cl.SitesBy != "" || sites != "") {
		bad("cluster.site", "set the site of a cluster at one site, or cluster.sites_by and cluster.sites for a stretched one, not both")
	} else if cl.Site == "" && (cl.SitesBy == "" || sites == "") {
		bad("cluster.site", "set the site of a cluster at one site, or cluster.sites_by and cluster.sites for a stretched one")
	} else if sites != "" {
		m, err := parseSites(sites)
		if err != nil {
			bad("cluster.sites", "%v", err)
		}
		cl.Sites = m
	}
	c.Clusters = []cluster{cl}

	for _, r := range list(get("routeragents")) {
		if pu, err := url.Parse(r); err != nil || pu.Scheme != "https" || pu.Host == "" {
			bad("routeragents", "%q is not an https URL (https://router-a1.example.net:8443)", r)
			continue
		}
		c.Routeragents = append(c.Routeragents, r)
	}
	for _, t := range []struct {
		key, file, block string
		mode             uint32
	}{
		{"tls.cert", "hostagent.crt", "CERTIFICATE", 0o640}, {"tls.key", "hostagent.key", "PRIVATE KEY", 0o640}, {"tls.ca", "ca.crt", "CERTIFICATE", 0o644},
	} {
		v := get(t.key)
		if v == "" {
			continue // required: named above
		}
		b, err := normalizePEM(v, t.block)
		if err != nil {
			bad(t.key, "%v", err)
			continue
		}
		s.Files = append(s.Files, File{Path: TLSDir + "/" + t.file, Mode: t.mode, Group: "vmroute-hostagent", Content: b})
	}

	var conf bytes.Buffer
	conf.WriteString("# Written at every boot from the appliance's OVF properties (vApp options):\n# change them in vSphere, not here.\n")
	if err := tomlEncode(&conf, c); err != nil {
		return nil, err
	}
	s.Files = append(s.Files, File{Path: ConfigFile, Mode: 0o644, Content: conf.Bytes()})

	s.Files = append(s.Files, File{Path: NetworkFile, Mode: 0o644, Content: network(env.MAC, get, bad)})
	// No fallback to Debian's public NTP pool: an appliance in a data
	// center reaches no internet, nor should it try.
	timesync := "[Time]\nFallbackNTP=\n"
	if s.NTP = list(get("net.ntp")); len(s.NTP) > 0 {
		timesync += "NTP=" + strings.Join(s.NTP, " ") + "\n"
	}
	s.Files = append(s.Files, File{Path: TimesyncFile, Mode: 0o644, Content: []byte(timesync)})
	// Resolution without a listener: no stub on 127.0.0.53, no LLMNR,
	// no mDNS (/etc/resolv.conf points at resolved's list of servers).
	s.Files = append(s.Files, File{Path: ResolvedFile, Mode: 0o644, Content: []byte("[Resolve]\nDNSStubListener=no\nLLMNR=no\nMulticastDNS=no\n")})

	fqdn := get("net.hostname")
	if fqdn == "" {
		fqdn = "vmroute-hostagent"
	}
	for _, label := range strings.Split(fqdn, ".") {
		if !hostnameRE.MatchString(label) {
			bad("net.hostname", "%q is not a host name nor an FQDN", fqdn)
			break
		}
	}
	s.Hostname, _, _ = strings.Cut(fqdn, ".")
	names := s.Hostname
	if fqdn != s.Hostname {
		names = fqdn + " " + s.Hostname
	}
	s.Files = append(s.Files, File{Path: HostsFile, Mode: 0o644, Content: []byte("127.0.0.1\tlocalhost\n127.0.1.1\t" + names +
		"\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")})
	s.RootPassword = get("access.root_password")
	s.RootPasswordHashed = cryptRE.MatchString(s.RootPassword)
	if strings.ContainsAny(s.RootPassword, "\n\r") {
		bad("access.root_password", "holds a line break")
	}
	switch v := get("access.ssh"); v {
	case "true", "True":
		s.SSH = true
	case "false", "False":
	default:
		bad("access.ssh", "%q is not true or false", v)
	}
	keys := ""
	if k := get("access.ssh_key"); k != "" {
		if !sshKeyRE.MatchString(k) {
			bad("access.ssh_key", "not an SSH public key (ssh-ed25519 AAAA..., one line)")
		}
		keys = k + "\n"
	}
	if s.SSH && keys == "" {
		bad("access.ssh_key", "required when access.ssh is on: root logs in over SSH by key only (Debian's sshd: PermitRootLogin prohibit-password)")
	}
	s.Files = append(s.Files, File{Path: AuthorizedKeys, Mode: 0o600, Content: []byte(keys)})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

var (
	thumbprintRE = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){19}$`)
	hostnameRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	// cryptRE is a crypt(5) hash as chpasswd -e takes it: yescrypt,
	// gost-yescrypt, scrypt, bcrypt, SHA-512, SHA-256 or MD5.
	cryptRE  = regexp.MustCompile(`^\$(y|gy|7|2[abxy]|6|5|1)\$[./A-Za-z0-9$=,]+$`)
	sshKeyRE = regexp.MustCompile(`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( [^\n]*)?$`)
)

// network renders the systemd-networkd file of the appliance's NIC, the
// one of mac (any NIC when the environment named none), telling bad of
// each property it cannot use.
func network(mac string, get func(string) string, bad func(key, format string, args ...any)) []byte {
	var b strings.Builder
	match := "Name=en* eth*"
	if mac != "" {
		match = "MACAddress=" + mac
	}
	fmt.Fprintf(&b, "# Written at every boot from the appliance's OVF properties.\n[Match]\n%s\n\n[Network]\n", match)
	switch mode := get("net.mode"); mode {
	case "dhcp":
		b.WriteString("DHCP=yes\n")
	case "static":
		a, err := netip.ParsePrefix(get("net.address"))
		if err != nil {
			bad("net.address", "static addressing needs an address with its prefix length (192.0.2.20/24): %q", get("net.address"))
		}
		fmt.Fprintf(&b, "Address=%s\n", a)
		if gw := get("net.gateway"); gw != "" {
			g, err := netip.ParseAddr(gw)
			if err != nil || (err == nil && a.IsValid() && g.Is4() != a.Addr().Is4()) {
				bad("net.gateway", "%q is not an address of the same family as net.address", gw)
			}
			fmt.Fprintf(&b, "Gateway=%s\n", gw)
		}
	default:
		bad("net.mode", "%q is not dhcp or static", mode)
	}
	for _, d := range list(get("net.dns")) {
		if _, err := netip.ParseAddr(d); err != nil {
			bad("net.dns", "%q is not an address", d)
		}
		fmt.Fprintf(&b, "DNS=%s\n", d)
	}
	b.WriteString("LinkLocalAddressing=ipv6\nLLMNR=no\nMulticastDNS=no\n")
	return []byte(b.String())
}

// parseSites reads "A=hosts-a,hosts-a2;B=hosts-b".
func parseSites(s string) (map[string][]string, error) {
	m := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		site, items, ok := strings.Cut(part, "=")
		site = strings.TrimSpace(site)
		if !ok || site == "" {
			return nil, fmt.Errorf("%q is not SITE=item,item", strings.TrimSpace(part))
		}
		for _, it := range strings.Split(items, ",") {
			if it = strings.TrimSpace(it); it != "" {
				m[site] = append(m[site], it)
			}
		}
		if len(m[site]) == 0 {
			return nil, fmt.Errorf("site %s names no host group, fault domain or pattern", site)
		}
	}
	if len(m) < 2 {
		return nil, fmt.Errorf("a stretched cluster spans two sites or more, as A=hosts-a;B=hosts-b")
	}
	return m, nil
}

// pemLabels are the labels of RFC 7468 and OpenSSH: the only text of a
// BEGIN line that an error may quote.
var pemLabels = map[string]bool{
	"CERTIFICATE": true, "TRUSTED CERTIFICATE": true, "X509 CRL": true, "CERTIFICATE REQUEST": true, "NEW CERTIFICATE REQUEST": true,
	"PKCS7": true, "CMS": true, "ATTRIBUTE CERTIFICATE": true, "PUBLIC KEY": true, "RSA PUBLIC KEY": true,
	"PRIVATE KEY": true, "ENCRYPTED PRIVATE KEY": true, "RSA PRIVATE KEY": true, "EC PRIVATE KEY": true, "DSA PRIVATE KEY": true,
	"OPENSSH PRIVATE KEY": true,
}

// normalizePEM reads one PEM block of the given type (a key of any
// "... PRIVATE KEY" type), whose line breaks the wizard may have turned
// into spaces, and writes it back as PEM. Its errors never quote it.
func normalizePEM(s, typ string) ([]byte, error) {
	begin := strings.Index(s, "-----BEGIN ")
	if begin < 0 {
		return nil, fmt.Errorf("not PEM: no -----BEGIN line")
	}
	rest := s[begin+len("-----BEGIN "):]
	head, body, ok := strings.Cut(rest, "-----")
	if !ok {
		return nil, fmt.Errorf("not PEM: the BEGIN line does not end")
	}
	if !pemLabels[head] {
		// Not a label: the BEGIN line lost its dashes, and what stands
		// where the label should is the content. Never quoted.
		return nil, fmt.Errorf("not PEM: the BEGIN line is not -----BEGIN %s-----", typ)
	}
	if head != typ && !(typ == "PRIVATE KEY" && strings.HasSuffix(head, "PRIVATE KEY")) {
		return nil, fmt.Errorf("PEM of %s, want %s", head, typ)
	}
	body, _, ok = strings.Cut(body, "-----END "+head+"-----")
	if !ok {
		return nil, fmt.Errorf("not PEM: no -----END %s----- line", head)
	}
	b64 := strings.Join(strings.Fields(body), "")
	var out strings.Builder
	fmt.Fprintf(&out, "-----BEGIN %s-----\n", head)
	for len(b64) > 64 {
		out.WriteString(b64[:64] + "\n")
		b64 = b64[64:]
	}
	fmt.Fprintf(&out, "%s\n-----END %s-----\n", b64, head)
	blk, _ := pem.Decode([]byte(out.String()))
	if blk == nil {
		return nil, fmt.Errorf("PEM of %s whose content is not base64", head)
	}
	return []byte(out.String()), nil
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func tomlEncode(w io.Writer, v any) error {
	if err := toml.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("hostagent configuration: %w", err)
	}
	return nil
}
