package keypath

import "testing"

func TestStrip(t *testing.T) {
	for in, want := range map[string]string{
		"clusters[0].sites.B[0]":      "clusters.sites.B",
		"vms[3].nics[0].addresses[1]": "vms.nics.addresses",
		"site":                        "site",
	} {
		if got := Strip(in); got != want {
			t.Errorf("Strip(%q) = %q, want %q", in, got, want)
		}
	}
}
