package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPickEnv: a boot without an OVF environment (after an HA restart)
// runs on the last good one and says so; one that never had a good one
// fails; a present environment, even a broken one, is this boot's.
func TestPickEnv(t *testing.T) {
	saved := filepath.Join(t.TempDir(), "ovf-env.xml")
	if _, _, _, err := pickEnv(nil, "", errNoEnv, saved); !errors.Is(err, errNoEnv) {
		t.Errorf("no environment and none saved: %v, want no OVF environment", err)
	}
	if err := os.WriteFile(saved, []byte("<Environment good/>"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, source, notice, err := pickEnv(nil, "", errNoEnv, saved)
	if err != nil || string(env) != "<Environment good/>" || source != saved || !strings.HasPrefix(notice, "no OVF environment at this boot: running on the last good configuration, of ") {
		t.Errorf("no environment, one saved: %q from %s, notice %q, %v", env, source, notice, err)
	}
	env, source, notice, err = pickEnv([]byte("<Environment broken"), "guestinfo.ovfEnv", nil, saved)
	if err != nil || string(env) != "<Environment broken" || source != "guestinfo.ovfEnv" || notice != "" {
		t.Errorf("a present environment: %q from %s, notice %q, %v; want it, as it is", env, source, notice, err)
	}
	if _, _, _, err := pickEnv(nil, "", errors.New("vmtoolsd: broken"), saved); err == nil || errors.Is(err, errNoEnv) {
		t.Errorf("another error: %v, want it passed on", err)
	}
}
