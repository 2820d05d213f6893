package state

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st := &intake.State{Cluster: "/DC1/host/Cluster-A", Generation: 7, Received: now, VMs: map[string]wire.VM{
		"v1": {UUID: "v1", Name: "web", Site: "A", PowerState: wire.PoweredOn, LandedAt: now,
			NICs: []wire.NIC{{MAC: wire.MAC{2, 0, 0, 0, 0, 1}, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.10")}}}},
	}}
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	st.Generation = 8
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	// Broken files are reported and ignored.
	if err := os.WriteFile(filepath.Join(dir, "truncated.json"), []byte(`{"received":"2026-11-22T10:00:00Z","report":{"site":"A","clus`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad-address.json"), []byte(`{"received":"2026-11-22T10:00:00Z","report":{"cluster":"bad-address","generation":1,"kind":"full","vms":[{"uuid":"x","name":"x","site":"A","power_state":"poweredOn","landed_at":"2026-11-22T10:00:00Z","nics":[{"mac":"02:00:00:00:00:01","addresses":["192.0.2.300"]}]}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	states, problems := s.Load()
	if len(states) != 1 || states[0].Generation != 8 || states[0].VMs["v1"].NICs[0].Addresses[0] != netip.MustParseAddr("192.0.2.10") {
		t.Errorf("loaded %+v", states)
	}
	if len(problems) != 2 {
		t.Fatalf("problems %v, want 2", problems)
	}
	for _, p := range problems {
		if !strings.Contains(p.Error(), "ignored") {
			t.Errorf("problem %v", p)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestLoadMigratesV1(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// As a routeragent that spoke wire v1 saved it.
	v1 := `{"received":"2026-11-22T10:00:00Z","report":{"site":"B","cluster":"cl-b","generation":4,"kind":"full","vms":[` +
		`{"uuid":"v1","name":"web","host":"esx-b1","power_state":"poweredOn","landed_at":"2026-11-22T09:00:00Z","nics":[{"mac":"02:00:00:00:00:01","addresses":["192.0.2.10"]}]}]}}`
	if err := os.WriteFile(filepath.Join(dir, "cl-b.json"), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	states, problems := s.Load()
	if len(problems) != 0 || len(states) != 1 {
		t.Fatalf("states %+v, problems %v", states, problems)
	}
	if st := states[0]; st.Cluster != "cl-b" || st.Generation != 4 || st.VMs["v1"].Site != "B" || st.VMs["v1"].Name != "web" {
		t.Errorf("migrated state %+v", st)
	}
}

// TestLoadReadsANewerRoutersState checks a downgrade: a state file that
// a newer routeragent wrote, with fields this one does not know in the
// file and in its report, is restored without them, not set aside.
func TestLoadReadsANewerRoutersState(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	newer := `{"received":"2026-11-22T10:00:00Z","provisional":{"v1":"B"},"report":{"cluster":"cl-b","generation":4,"kind":"full","vms":[` +
		`{"uuid":"v1","name":"web","site":"B","hw_version":"vmx-21","power_state":"poweredOn","landed_at":"2026-11-22T09:00:00Z","nics":[{"mac":"02:00:00:00:00:01","addresses":["192.0.2.10"]}]}]}}`
	if err := os.WriteFile(filepath.Join(dir, "cl-b.json"), []byte(newer), 0o600); err != nil {
		t.Fatal(err)
	}
	states, problems := s.Load()
	if len(problems) != 0 || len(states) != 1 {
		t.Fatalf("states %+v, problems %v", states, problems)
	}
	if st := states[0]; st.Cluster != "cl-b" || st.Generation != 4 || st.VMs["v1"].Site != "B" ||
		st.VMs["v1"].NICs[0].Addresses[0] != netip.MustParseAddr("192.0.2.10") || !st.Received.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("restored state %+v", st)
	}
	// Still validated: a bad value of a known field sets the file aside.
	bad := strings.Replace(newer, `"192.0.2.10"`, `"192.0.2.300"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "cl-b.json"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if states, problems := s.Load(); len(states) != 0 || len(problems) != 1 {
		t.Errorf("a newer file with a bad address: states %+v, problems %v", states, problems)
	}
}

// TestSaveLoadFollow keeps what the planner follows across a restart:
// none before it was saved, the same after, and a broken file is an
// error, never a cluster's state.
func TestSaveLoadFollow(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := s.LoadFollow(); err != nil || f.Subnets != nil || f.Lost != nil {
		t.Errorf("before any save: %+v, %v; want nothing", f, err)
	}
	since := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	want := plan.Follow{Lost: []string{"C"}, Subnets: map[netip.Prefix]plan.FollowSubnet{
		netip.MustParsePrefix("198.51.100.0/24"): {Owner: "A", Summaries: []string{"A"}, Takeover: &plan.Underway{From: "B", Since: since}},
		netip.MustParsePrefix("192.0.2.0/24"):    {Owner: "A", Summaries: []string{"A", "C"}, Beat: &plan.Underway{From: "C", Since: since}},
	}}
	if err := s.SaveFollow(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadFollow()
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w || !got.Subnets[netip.MustParsePrefix("198.51.100.0/24")].Takeover.Since.Equal(since) {
		t.Errorf("loaded %s\nwant %s", g, w)
	}
	if states, problems := s.Load(); len(states) != 0 || len(problems) != 0 {
		t.Errorf("the planner's file read as a cluster's state: %v, %v", states, problems)
	}
	if err := os.WriteFile(filepath.Join(dir, followName), []byte(`{"subnets": {"198.51.100.0/24": {"owner": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := s.LoadFollow(); err == nil || !strings.Contains(err.Error(), "planner.follow ignored") || f.Subnets != nil {
		t.Errorf("a broken file: %+v, %v; want nothing and an error naming it", f, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSaveLoadTombstones(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st := &intake.State{Cluster: "cl", Generation: 3, Received: at, VMs: map[string]wire.VM{}, Gone: plan.Tombstones{"v9": at}}
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	states, problems := s.Load()
	if len(problems) != 0 || len(states) != 1 || !states[0].Gone["v9"].Equal(at) {
		t.Errorf("loaded %+v, problems %v; want v9's tombstone back", states, problems)
	}
}

func TestOpenRemovesWritesCutShort(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".tmp-123", ".tmp-456"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"received":`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestLoadRefusesAGenerationWithoutSuccessor(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.json"), []byte(`{"received":"2026-11-22T10:00:00Z","report":{"cluster":"c","generation":18446744073709551615,"kind":"full","vms":[]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	states, problems := s.Load()
	if len(states) != 0 || len(problems) != 1 || !strings.Contains(problems[0].Error(), "generation: 18446744073709551615 is not from 1 to") {
		t.Errorf("states %v, problems %v", states, problems)
	}
}
