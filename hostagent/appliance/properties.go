// Package appliance turns the hostagent appliance's OVF properties, which
// a vSphere admin fills in the deploy wizard, into the files the
// appliance runs on: the hostagent's configuration and credentials, its
// network, time and access settings. It is pure: an OVF environment in,
// files out; the appliance's configure step writes them and applies them.
package appliance

// Property is one OVF property of the appliance (a vApp option).
type Property struct {
	Key      string
	Category string
	Label    string
	// Description is shown under the field in the deploy wizard.
	Description string
	// Type is the OVF type: "string" or "boolean".
	Type    string
	Default string
	// Choices, when set, are the only values the wizard offers; never
	// the empty string.
	Choices []string
	// Required properties may not be left blank: the wizard refuses
	// them (MinLen(1)), and so does Render.
	Required bool
	// MaxLen, when set, is the longest value the wizard and Render take.
	MaxLen int
	// Secret properties are passwords and keys: the wizard hides them,
	// and they are never logged nor shown in an error.
	Secret bool
}

// Properties are the appliance's OVF properties, in the wizard's order.
// The OVF descriptor and docs/appliance.md are made from, and checked
// against, this list.
var Properties = []Property{
	{Key: "vcenter.url", Required: true, Category: "vCenter", Label: "vCenter URL", Type: "string",
		Description: "The vCenter SDK URL, https://vcenter.example.net/sdk."},
	{Key: "vcenter.user", Required: true, Category: "vCenter", Label: "vCenter user", Type: "string",
		Description: "A vCenter user with the Read-only role on the datacenter, propagated to children, vmroute@vsphere.local."},
	{Key: "vcenter.password", Required: true, Category: "vCenter", Label: "vCenter password", Type: "string", Secret: true,
		Description: "The vCenter user's password."},
	{Key: "vcenter.thumbprint", Category: "vCenter", Label: "vCenter certificate thumbprint", Type: "string", MaxLen: 59,
		Description: "The SHA-1 thumbprint of vCenter's certificate (AB:CD:...). Set this or the CA."},
	{Key: "vcenter.ca", Category: "vCenter", Label: "vCenter CA (PEM)", Type: "string",
		Description: "The CA certificate that signed vCenter's certificate, PEM; line breaks may be spaces. Set this or the thumbprint."},
	{Key: "cluster.path", Required: true, Category: "Cluster", Label: "Cluster", Type: "string",
		Description: "The cluster's inventory path, /DC1/host/Cluster-A."},
	{Key: "cluster.name", Category: "Cluster", Label: "Cluster name for vmroute", Type: "string",
		Description: "The name the routeragents know the cluster by (their [[clusters]] name). Empty: the cluster's own name."},
	{Key: "cluster.site", Category: "Cluster", Label: "Site (cluster at one site)", Type: "string",
		Description: "The site of a cluster whose hosts all run at one site. Leave empty for a stretched cluster."},
	{Key: "cluster.sites_by", Category: "Cluster", Label: "Stretched: sites by", Type: "string", Default: "none", Choices: []string{"none", "host_group", "fault_domain", "host_name"},
		Description: "For a stretched cluster: how its hosts map to sites, by DRS host group, vSAN fault domain or host name pattern. none: a cluster at one site."},
	{Key: "cluster.sites", Category: "Cluster", Label: "Stretched: sites", Type: "string",
		Description: "For a stretched cluster: each site and its host groups, fault domains or host name patterns, A=hosts-a;B=hosts-b."},
	{Key: "routeragents", Required: true, Category: "Routeragents", Label: "Routeragents", Type: "string",
		Description: "Every routeragent at every site, comma-separated, https://router-a1.example.net:8443,https://router-b1.example.net:8443."},
	{Key: "tls.cert", Required: true, Category: "Routeragents", Label: "Client certificate (PEM)", Type: "string",
		Description: "This hostagent's client certificate (vmroutectl pki issue hostagent), PEM; line breaks may be spaces."},
	{Key: "tls.key", Required: true, Category: "Routeragents", Label: "Client key (PEM)", Type: "string", Secret: true,
		Description: "The client certificate's private key, PEM; line breaks may be spaces."},
	{Key: "tls.ca", Required: true, Category: "Routeragents", Label: "Routeragents' CA (PEM)", Type: "string",
		Description: "The CA that signed the routeragents' certificates, PEM; line breaks may be spaces."},
	{Key: "net.mode", Category: "Network", Label: "Addressing", Type: "string", Default: "dhcp", Choices: []string{"dhcp", "static"},
		Description: "DHCP, or the static address below."},
	{Key: "net.address", Category: "Network", Label: "Address", Type: "string",
		Description: "Static: the appliance's address and prefix length, 192.0.2.20/24."},
	{Key: "net.gateway", Category: "Network", Label: "Gateway", Type: "string",
		Description: "Static: the default gateway. Empty: none."},
	{Key: "net.dns", Category: "Network", Label: "DNS servers", Type: "string",
		Description: "DNS servers, comma-separated. With DHCP, added to DHCP's."},
	{Key: "net.ntp", Category: "Network", Label: "NTP servers", Type: "string",
		Description: "NTP servers, comma-separated. Empty: DHCP's, or none."},
	{Key: "net.hostname", Category: "Network", Label: "Host name", Type: "string", MaxLen: 253,
		Description: "The appliance's host name, or its FQDN, vmroute-ha1.example.net. Empty: vmroute-hostagent."},
	{Key: "access.root_password", Category: "Access", Label: "Root password", Type: "string", Secret: true,
		Description: "The root password for the console, or its crypt hash ($6$... or $y$..., from mkpasswd). Empty: root cannot log in with a password. SSH takes root's key only."},
	{Key: "access.ssh", Category: "Access", Label: "Enable SSH", Type: "boolean", Default: "false",
		Description: "Run the SSH server. Off by default. On needs the SSH public key below: root logs in by key only."},
	{Key: "access.ssh_key", Category: "Access", Label: "Root SSH public key", Type: "string",
		Description: "The SSH public key that logs in as root; required when SSH is on."},
}

// property returns the property of a key.
func property(key string) (Property, bool) {
	for _, p := range Properties {
		if p.Key == key {
			return p, true
		}
	}
	return Property{}, false
}
