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
	// Choices, when set, are the only values the wizard offers.
	Choices []string
	// Secret properties are passwords and keys: the wizard hides them,
	// and they are never logged nor shown in an error.
	Secret bool
}

// Properties are the appliance's OVF properties, in the wizard's order.
// The OVF descriptor and docs/appliance.md are made from, and checked
// against, this list.
var Properties = []Property{
	{Key: "vcenter.url", Category: "vCenter", Label: "vCenter URL", Type: "string",
		Description: "The vCenter SDK URL, https://vcenter.example.net/sdk."},
	{Key: "vcenter.user", Category: "vCenter", Label: "vCenter user", Type: "string",
		Description: "A vCenter user with read-only rights on the cluster, vmroute@vsphere.local."},
	{Key: "vcenter.password", Category: "vCenter", Label: "vCenter password", Type: "string", Secret: true,
		Description: "The vCenter user's password."},
	{Key: "vcenter.thumbprint", Category: "vCenter", Label: "vCenter certificate thumbprint", Type: "string",
		Description: "The SHA-1 thumbprint of vCenter's certificate (AB:CD:...). Set this or the CA."},
	{Key: "vcenter.ca", Category: "vCenter", Label: "vCenter CA (PEM)", Type: "string",
		Description: "The CA certificate that signed vCenter's certificate, PEM; line breaks may be spaces. Set this or the thumbprint."},
	{Key: "cluster.path", Category: "Cluster", Label: "Cluster", Type: "string",
		Description: "The cluster's inventory path, /DC1/host/Cluster-A."},
	{Key: "cluster.name", Category: "Cluster", Label: "Cluster name for vmroute", Type: "string",
		Description: "The name the routeragents know the cluster by (their [[clusters]] name). Empty: the cluster's own name."},
	{Key: "cluster.site", Category: "Cluster", Label: "Site (cluster at one site)", Type: "string",
		Description: "The site of a cluster whose hosts all run at one site. Leave empty for a stretched cluster."},
	{Key: "cluster.sites_by", Category: "Cluster", Label: "Stretched: sites by", Type: "string", Choices: []string{"", "host_group", "fault_domain", "host_name"},
		Description: "For a stretched cluster: how its hosts map to sites, by DRS host group, vSAN fault domain or host name pattern."},
	{Key: "cluster.sites", Category: "Cluster", Label: "Stretched: sites", Type: "string",
		Description: "For a stretched cluster: each site and its host groups, fault domains or host name patterns, A=hosts-a;B=hosts-b."},
	{Key: "routeragents", Category: "Routeragents", Label: "Routeragents", Type: "string",
		Description: "Every routeragent at every site, comma-separated, https://router-a1.example.net:8443,https://router-b1.example.net:8443."},
	{Key: "tls.cert", Category: "Routeragents", Label: "Client certificate (PEM)", Type: "string",
		Description: "This hostagent's client certificate (vmroutectl pki issue hostagent), PEM; line breaks may be spaces."},
	{Key: "tls.key", Category: "Routeragents", Label: "Client key (PEM)", Type: "string", Secret: true,
		Description: "The client certificate's private key, PEM; line breaks may be spaces."},
	{Key: "tls.ca", Category: "Routeragents", Label: "Routeragents' CA (PEM)", Type: "string",
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
	{Key: "net.hostname", Category: "Network", Label: "Host name", Type: "string",
		Description: "The appliance's host name. Empty: vmroute-hostagent."},
	{Key: "access.root_password", Category: "Access", Label: "Root password", Type: "string", Secret: true,
		Description: "The root password, for the console (and SSH when allowed). Empty: root cannot log in with a password."},
	{Key: "access.ssh", Category: "Access", Label: "Enable SSH", Type: "boolean", Default: "false",
		Description: "Run the SSH server. Off by default."},
	{Key: "access.ssh_key", Category: "Access", Label: "Root SSH public key", Type: "string",
		Description: "An SSH public key that may log in as root, when SSH is on."},
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
