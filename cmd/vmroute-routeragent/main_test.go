package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the tests run main itself in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("VMROUTE_RUN_MAIN") == "1" {
		os.Args = append([]string{"vmroute-routeragent"}, strings.Fields(os.Getenv("VMROUTE_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runMain(t *testing.T, args string) (string, int) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "VMROUTE_RUN_MAIN=1", "VMROUTE_ARGS="+args)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestCheckConfig(t *testing.T) {
	good := "../../routeragent/config/testdata/good.toml"
	if out, code := runMain(t, "--check-config --config "+good); code != 0 || !strings.Contains(out, "configuration is valid: site A") {
		t.Errorf("good config: exit %d: %s", code, out)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), `prefix = "192.0.2.0/24"`, `prefix = "192.0.2.0/33"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runMain(t, "--check-config --config "+bad); code == 0 || !strings.Contains(out, bad+`:37: subnets[0].prefix: "192.0.2.0/33" is not a prefix`) {
		t.Errorf("broken config: exit %d: %s", code, out)
	}
	if out, code := runMain(t, "--config /nonexistent/routeragent.toml"); code == 0 || !strings.Contains(out, "config file not found: /nonexistent/routeragent.toml") {
		t.Errorf("missing config: exit %d: %s", code, out)
	}
}
