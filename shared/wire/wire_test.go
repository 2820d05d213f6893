package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const goodReport = `{
  "cluster": "/DC1/host/Cluster-A", "generation": 7, "kind": "full",
  "vms": [{
    "uuid": "502e71fa-1a2b-3c4d-5e6f-0123456789ab", "name": "web-1", "site": "A",
    "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00.123Z",
    "nics": [{"mac": "00:50:56:aa:bb:cc", "network": "VLAN100",
              "addresses": ["192.0.2.10", "2001:db8:100::10", "fe80::250:56ff:feaa:bbcc"]}]
  }]
}`

func TestDecodeGood(t *testing.T) {
	r, err := Decode(strings.NewReader(goodReport))
	if err != nil {
		t.Fatal(err)
	}
	vm := r.VMs[0]
	if vm.NICs[0].MAC.String() != "00:50:56:aa:bb:cc" || vm.NICs[0].Addresses[1] != netip.MustParseAddr("2001:db8:100::10") {
		t.Errorf("nic %+v", vm.NICs[0])
	}
	if !vm.LandedAt.Equal(time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)) || !vm.Present() {
		t.Errorf("vm %+v", vm)
	}
	// A report survives its own encoding.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("re-decoding %s: %v", b, err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct{ name, old, new, want string }{
		{"bad address", `"192.0.2.10"`, `"192.0.2.300"`, `192.0.2.300`},
		{"bad mac", `"00:50:56:aa:bb:cc"`, `"00:50:56:aa:bb"`, `"00:50:56:aa:bb" is not an Ethernet (EUI-48) address`},
		{"multicast mac", `"00:50:56:aa:bb:cc"`, `"01:00:5e:aa:bb:cc"`, `vms[0].nics[0].mac: 01:00:5e:aa:bb:cc is not a unicast`},
		{"zone", `"fe80::250:56ff:feaa:bbcc"`, `"fe80::1%eth0"`, `vms[0].nics[0].addresses[2]: fe80::1%eth0 carries a zone`},
		{"mapped", `"192.0.2.10"`, `"::ffff:192.0.2.10"`, `vms[0].nics[0].addresses[0]: ::ffff:192.0.2.10 is IPv4-mapped; send 192.0.2.10`},
		{"duplicate address", `"2001:db8:100::10"`, `"192.0.2.10"`, `vms[0].nics[0].addresses[1]: 192.0.2.10 is listed twice`},
		{"power", `"poweredOn"`, `"on"`, `vms[0].power_state: "on" is not one of`},
		{"generation zero", `"generation": 7`, `"generation": 0`, `generation: 0 is not from 1 to 4611686018427387903`},
		{"generation without a successor", `"generation": 7`, `"generation": 18446744073709551615`, `generation: 18446744073709551615 is not from 1 to 4611686018427387903`},
		{"negative generation", `"generation": 7`, `"generation": -1`, `generation: number -1 is not a valid uint64`},
		{"kind", `"kind": "full"`, `"kind": "partial"`, `kind: "partial" is neither`},
		{"delta without base", `"kind": "full"`, `"kind": "delta"`, `base: a delta needs a base generation below its generation 7, got 0`},
		{"full with base", `"kind": "full"`, `"kind": "full", "base": 3`, `base: a full report has no base generation`},
		{"no site", `"site": "A"`, `"site": ""`, `vms[0].site: missing`},
		{"control char", `"web-1"`, `"web\u0007"`, `vms[0].name: control character`},
		{"bad uuid", `"502e71fa-1a2b-3c4d-5e6f-0123456789ab"`, `"502e/71fa"`, `vms[0].uuid: "502e/71fa" holds '/'`},
		{"bad BIOS uuid", `"name": "web-1",`, `"name": "web-1", "bios_uuid": "4229 aa",`, `vms[0].bios_uuid: "4229 aa" holds ' '`},
		{"trailing data", "}]\n}", "}]\n}{}", `trailing data after the report`},
		{"truncated", "}]\n}", "}]", `body ends inside the JSON document`},
		{"not json", `{`, `<`, `malformed JSON at byte 1`},
		{"a key twice", `"name": "web-1",`, `"name": "web-1", "name": "db-1",`, `vms[0].name: the key "name" is given twice`},
		{"a key in another case", `"uuid":`, `"UUID":`, `vms[0].UUID: keys are lowercase, as "uuid"`},
		{"an address deep inside", `"2001:db8:100::10"`, `"2001:db8:100::1x"`, `vms[0].nics[0].addresses[1]: ParseAddr("2001:db8:100::1x")`},
		{"a bad time", `"2026-11-22T10:00:00.123Z"`, `"yesterday"`, `vms[0].landed_at: parsing time "yesterday"`},
		{"a type deep inside", `"power_state": "poweredOn"`, `"power_state": 1`, `vms[0].power_state: number is not a valid wire.PowerState`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(goodReport, tt.old) {
				t.Fatalf("report lacks %q", tt.old)
			}
			_, err := Decode(strings.NewReader(strings.Replace(goodReport, tt.old, tt.new, 1)))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode() = %v\nwant ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

func TestValidateDelta(t *testing.T) {
	r := Report{Cluster: "c", Generation: 5, Kind: KindDelta, Base: 4, Removed: []string{"x", "x"}}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), `removed[1]: "x" is removed twice`) {
		t.Errorf("Validate() = %v", err)
	}
	r.Removed = []string{"x"}
	r.VMs = []VM{{UUID: "x", Name: "n", Site: "A", PowerState: PoweredOn, LandedAt: time.Now()}}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), `removed[0]: "x" is both listed and removed`) {
		t.Errorf("Validate() = %v", err)
	}
	r.VMs = nil
	if err := r.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestValidateLimits(t *testing.T) {
	vm := func(id string) VM {
		return VM{UUID: id, Name: id, Site: "A", PowerState: PoweredOn, NICs: []NIC{{MAC: MAC{2, 0, 0, 0, 0, 1}}}}
	}
	manyNICs := vm("v1")
	for i := range MaxNICs {
		manyNICs.NICs = append(manyNICs.NICs, NIC{MAC: MAC{2, 0, 0, 0, 1, byte(i)}})
	}
	manyAddrs := vm("v1")
	for i := range MaxAddresses + 1 {
		manyAddrs.NICs[0].Addresses = append(manyAddrs.NICs[0].Addresses, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}))
	}
	dupMAC := vm("v1")
	dupMAC.NICs = append(dupMAC.NICs, NIC{MAC: MAC{2, 0, 0, 0, 0, 1}})
	longName := vm("v1")
	longName.Name = strings.Repeat("n", MaxNameLen+1)
	manyVMs := make([]VM, MaxVMs+1)
	for i := range manyVMs {
		manyVMs[i] = vm(fmt.Sprintf("v%d", i))
	}
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"a delta whose base is its generation", Report{Cluster: "c", Generation: 7, Base: 7, Kind: KindDelta}, "base: a delta needs a base generation below its generation 7, got 7"},
		{"a VM listed twice", Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: []VM{vm("v1"), vm("v1")}}, `vms[1].uuid: "v1" is listed twice (also vms[0])`},
		{"a MAC twice in one VM", Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: []VM{dupMAC}}, "vms[0].nics[1].mac: 02:00:00:00:00:01 is listed twice in this VM"},
		{"a name too long", Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: []VM{longName}}, "vms[0].name: 256 bytes, more than 255"},
		{"too many VMs", Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: manyVMs}, "vms: 100001 entries, more than the limit of 100000"},
		{"too many adapters", Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: []VM{manyNICs}}, "vms[0].nics: 65 adapters, more than the limit of 64"},
		{"too many addresses", Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: []VM{manyAddrs}}, "vms[0].nics[0].addresses: 257 addresses, more than the limit of 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.r.Validate(); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	// At the limits, all is well.
	ok := Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: manyVMs[:MaxVMs]}
	if err := ok.Validate(); err != nil {
		t.Errorf("at the VM limit: %v", err)
	}
}

// TestValidateBoundaries takes every limit at its edge: the last value
// allowed passes and the first one past it fails, with the count named.
func TestValidateBoundaries(t *testing.T) {
	vm := func(id string) VM {
		return VM{UUID: id, Name: id, Site: "A", PowerState: PoweredOn, NICs: []NIC{{MAC: MAC{2, 0, 0, 0, 0, 1}}}}
	}
	nics := func(n int) VM {
		v := vm("v1")
		v.NICs = nil
		for i := range n {
			v.NICs = append(v.NICs, NIC{MAC: MAC{2, 0, 0, 0, 1, byte(i)}})
		}
		return v
	}
	addrs := func(n int) VM {
		v := vm("v1")
		for i := range n {
			v.NICs[0].Addresses = append(v.NICs[0].Addresses, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}))
		}
		return v
	}
	named := func(n int) VM {
		v := vm("v1")
		v.Name = strings.Repeat("n", n)
		return v
	}
	full := func(vms ...VM) Report { return Report{Cluster: "c", Generation: 7, Kind: KindFull, VMs: vms} }
	manyVMs := make([]VM, MaxVMs-1)
	for i := range manyVMs {
		manyVMs[i] = vm(fmt.Sprintf("v%d", i))
	}
	tests := []struct {
		name string
		r    Report
		want string // "" when valid
	}{
		{"the highest generation", Report{Cluster: "c", Generation: MaxGeneration, Kind: KindFull}, ""},
		{"past the highest generation", Report{Cluster: "c", Generation: MaxGeneration + 1, Kind: KindFull}, "generation: 4611686018427387904 is not from 1 to 4611686018427387903"},
		{"a delta one above its base", Report{Cluster: "c", Generation: 8, Base: 7, Kind: KindDelta}, ""},
		{"listed and removed VMs at the limit", Report{Cluster: "c", Generation: 8, Base: 7, Kind: KindDelta, VMs: manyVMs, Removed: []string{"r1"}}, ""},
		{"listed and removed VMs past the limit", Report{Cluster: "c", Generation: 8, Base: 7, Kind: KindDelta, VMs: manyVMs, Removed: []string{"r1", "r2"}}, "vms: 100001 entries, more than the limit of 100000"},
		{"adapters at the limit", full(nics(MaxNICs)), ""},
		{"adapters past the limit", full(nics(MaxNICs + 1)), "vms[0].nics: 65 adapters"},
		{"addresses at the limit", full(addrs(MaxAddresses)), ""},
		{"addresses past the limit", full(addrs(MaxAddresses + 1)), "vms[0].nics[0].addresses: 257 addresses"},
		{"a name at the limit", full(named(MaxNameLen)), ""},
		{"a name past the limit", full(named(MaxNameLen + 1)), "vms[0].name: 256 bytes, more than 255"},
		{"a UUID at the limit", full(vm(strings.Repeat("a", 64))), ""},
		{"a UUID past the limit", full(vm(strings.Repeat("a", 65))), "vms[0].uuid: 65 characters, more than 64"},
		{"a UUID of every edge character", full(vm("09azAZ-")), ""},
		{"an address with a zone", full(VM{UUID: "v1", Name: "v", Site: "A", PowerState: PoweredOn, NICs: []NIC{{MAC: MAC{2, 0, 0, 0, 0, 1}, Addresses: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}}}}), "vms[0].nics[0].addresses[0]: fe80::1%eth0 carries a zone"},
		{"an empty address", full(VM{UUID: "v1", Name: "v", Site: "A", PowerState: PoweredOn, NICs: []NIC{{MAC: MAC{2, 0, 0, 0, 0, 1}, Addresses: []netip.Addr{{}}}}}), "vms[0].nics[0].addresses[0]: empty address"},
		{"a space in a name", full(named(0)), ""},
		{"a control character first in a name", Report{Cluster: "\tc", Generation: 7, Kind: KindFull}, "cluster: control character at byte 0"},
	}
	// The characters just outside each range of checkUUID.
	for _, c := range "/:@[`{" {
		tests = append(tests, struct {
			name string
			r    Report
			want string
		}{"a UUID holding " + string(c), full(vm("ab" + string(c))), fmt.Sprintf("vms[0].uuid: %q holds %q", "ab"+string(c), c)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDecodeNamesThePlace checks the JSON path of every kind of refusal
// exactly, at the top, inside objects and at later array indexes, and
// with keys written with escapes.
func TestDecodeNamesThePlace(t *testing.T) {
	vms := `"vms": [
	  {"uuid": "v0", "name": "a", "site": "A", "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00Z", "nics": []},
	  {"uuid": "v1", "name": "b", "site": "A", "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00Z",
	   "nics": [{"mac": "00:50:56:aa:bb:c0"}, {"mac": "00:50:56:aa:bb:c1", %s}]}]`
	doc := func(top, nic string) string {
		return `{"cluster": "c", "generation": 7, "kind": "full", ` + top + fmt.Sprintf(vms, nic) + `}`
	}
	tests := []struct{ name, body, want string }{
		{"a key twice at the top", doc(`"cluster": "d", `, `"network": "n"`), `invalid report: cluster: the key "cluster" is given twice`},
		{"a key twice deep inside", doc("", `"network": "n", "network": "m"`), `report: vms[1].nics[1].network: the key "network" is given twice`},
		{"a key twice after a closed object", `{"cluster": "c", "x": {}, "cluster": "d"}`, `invalid report: cluster: the key "cluster" is given twice`},
		{"a key twice, once escaped", doc("", `"network": "n", "netw\u006frk": "m"`), `vms[1].nics[1].network: the key "network" is given twice`},
		{"an uppercase key at the top", doc(`"Kind": "full", `, `"network": "n"`), `invalid report: Kind: keys are lowercase`},
		{"an uppercase key deep inside", doc("", `"Network": "n"`), `vms[1].nics[1].Network: keys are lowercase`},
		{"a wrong type deep inside", doc("", `"network": 5`), `vms[1].nics[1].network: number is not a valid string`},
		{"a wrong type beside an unknown key", doc(`"colour": "red", `, `"network": 5`), `vms[1].nics[1].network: number is not a valid string`},
		{"a key twice inside an unknown one", doc("", `"vlan": {"id": 1, "id": 2}`), `vms[1].nics[1].vlan.id: the key "id" is given twice`},
		{"an uppercase key inside an unknown one", doc("", `"vlan": {"ID": 1}`), `vms[1].nics[1].vlan.ID: keys are lowercase`},
		{"trailing data after a report with an unknown key", doc(`"colour": "red", `, `"network": "n"`) + "{}", `trailing data after the report at byte`},
		{"a bad MAC beside an unknown key", strings.Replace(doc(`"colour": "red", `, `"vlan": 1`), "00:50:56:aa:bb:c1", "00:50:56:aa:bb", 1), `vms[1].nics[1].mac: "00:50:56:aa:bb" is not`},
		{"a bad MAC deep inside", strings.Replace(doc("", `"network": "n"`), "00:50:56:aa:bb:c1", "00:50:56:aa:bb", 1), `vms[1].nics[1].mac: "00:50:56:aa:bb" is not`},
		{"an unterminated key", `{"cluster": "c", "cluster`, `body ends inside the JSON document`},
		{"a bad escape in a key", `{"clu\ster": "c"}`, `malformed JSON at byte`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBytes([]byte(tt.body))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode() = %v\nwant ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

// TestDecodeIgnoresOptionalFields checks the rule by which v2 grows: a
// field this version does not know, a newer hostagent's optional one, is
// ignored at any depth and named once, by its path without indexes,
// and the report reads as it would without it.
func TestDecodeIgnoresOptionalFields(t *testing.T) {
	want, err := DecodeBytes([]byte(goodReport))
	if err != nil {
		t.Fatal(err)
	}
	if want.Ignored != nil {
		t.Fatalf("a report of this version ignores %v", want.Ignored)
	}
	second := `}]
}`
	tests := []struct {
		name, old, new string
		ignored        []string
		vms            int
	}{
		{"at the top", `"kind": "full"`, `"kind": "full", "colour": "red"`, []string{"colour"}, 1},
		{"in a VM", `"name": "web-1",`, `"name": "web-1", "hw_version": "vmx-21",`, []string{"vms.hw_version"}, 1},
		{"in a NIC", `"network": "VLAN100",`, `"network": "VLAN100", "vlan": 100,`, []string{"vms.nics.vlan"}, 1},
		{"an object, named once with the keys inside it its own", `"name": "web-1",`,
			`"name": "web-1", "migrating": {"site": "B", "uuid": "x", "at": ["2026-11-22T10:00:00Z"]},`, []string{"vms.migrating"}, 1},
		{"a v1 report's site and a VM's host", `"name": "web-1",`, `"name": "web-1", "host": "esx-a1",`, []string{"vms.host"}, 1},
		{"in two VMs, named once, in the order found", second,
			`}, {"uuid": "v2", "name": "b", "site": "A", "power_state": "poweredOff", "zone": "z", "nics": [{"mac": "00:50:56:aa:bb:cd", "vlan": 2}]},
			{"uuid": "v3", "name": "c", "site": "A", "power_state": "poweredOff", "zone": "y", "nics": [{"mac": "00:50:56:aa:bb:ce", "vlan": 3}]}]
}`, []string{"vms.zone", "vms.nics.vlan"}, 3},
		{"null", `"kind": "full"`, `"kind": "full", "later": null`, []string{"later"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(goodReport, tt.old) {
				t.Fatalf("report lacks %q", tt.old)
			}
			got, err := DecodeBytes([]byte(strings.Replace(goodReport, tt.old, tt.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Ignored) != fmt.Sprint(tt.ignored) {
				t.Errorf("Ignored = %q, want %q", got.Ignored, tt.ignored)
			}
			if len(got.VMs) != tt.vms {
				t.Fatalf("%d VMs, want %d", len(got.VMs), tt.vms)
			}
			b, _ := json.Marshal(got.VMs[0])
			w, _ := json.Marshal(want.VMs[0])
			if !bytes.Equal(b, w) || got.Cluster != want.Cluster || got.Generation != want.Generation || got.Kind != want.Kind {
				t.Errorf("report read as\n%s\nwant\n%s", b, w)
			}
			again, _ := json.Marshal(got)
			if strings.Contains(string(again), tt.ignored[0][strings.LastIndex(tt.ignored[0], ".")+1:]+`"`) {
				t.Errorf("an ignored field is sent on: %s", again)
			}
		})
	}
}

// TestKnownFields pins the paths of every field of the report, so that a
// field this version sends is never counted as ignored.
func TestKnownFields(t *testing.T) {
	want := "base cluster generation kind removed vms vms.bios_uuid vms.landed_at vms.name vms.nics vms.nics.addresses vms.nics.mac vms.nics.network vms.power_state vms.site vms.uuid"
	var got []string
	for p := range knownFields {
		got = append(got, p)
	}
	slices.Sort(got)
	if strings.Join(got, " ") != want {
		t.Errorf("known fields\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
}
