package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vmroute/vmroute/hostagent/appliance"
	"github.com/vmroute/vmroute/shared/support"
)

// update installs newer .deb files of the hostagent and vmroutectl, which
// restarts a running hostagent into the new version (the package's
// postinst), and waits until it runs again. The configuration stays: it
// is written from the OVF properties at every boot, and nothing of it is
// typed again.
func update(debs []string) error {
	if len(debs) == 0 {
		return fmt.Errorf("name the .deb files: vmroute-appliance update vmroute-hostagent_V_amd64.deb vmroutectl_V_amd64.deb")
	}
	for _, d := range debs {
		out, err := exec.Command("dpkg-deb", "-f", d, "Package").CombinedOutput()
		name := strings.TrimSpace(string(out))
		if err != nil {
			return fmt.Errorf("%s: not a .deb: %s", d, name)
		}
		if name != "vmroute-hostagent" && name != "vmroutectl" {
			return fmt.Errorf("%s is the package %s, not vmroute-hostagent or vmroutectl", d, name)
		}
	}
	wasActive := exec.Command("systemctl", "is-active", "--quiet", "vmroute-hostagent.service").Run() == nil
	cmd := exec.Command("dpkg", append([]string{"-i"}, debs...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("dpkg -i: %w", err)
	}
	v, _ := exec.Command("vmroute-hostagent", "--version").Output()
	fmt.Printf("installed: %s", v)
	if !wasActive {
		fmt.Println("the hostagent was not running, and stays stopped until the next boot")
		return nil
	}
	deadline := time.Now().Add(time.Minute)
	for exec.Command("systemctl", "is-active", "--quiet", "vmroute-hostagent.service").Run() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("the hostagent did not run again within a minute of the update: see journalctl -u vmroute-hostagent")
		}
		time.Sleep(time.Second)
	}
	fmt.Println("the hostagent runs the new version")
	return nil
}

// supportBundle writes the appliance's support bundle: the machine's, and
// the appliance's properties (secret ones hidden), the state of its boot
// steps and its console screen.
func supportBundle(out string) error {
	items := support.Machine("vmroutectl")
	scrubs := support.MachineScrubs("/etc/vmroute")
	var props strings.Builder
	if b, err := os.ReadFile(lastGoodEnv); err != nil {
		fmt.Fprintf(&props, "# the last good OVF environment: %v\n", err)
	} else if env, err := appliance.Env(strings.NewReader(string(b))); err != nil {
		fmt.Fprintf(&props, "# the last good OVF environment: %v\n", err)
	} else {
		fmt.Fprintf(&props, "# the last good OVF environment's properties; NIC %s\n", env.MAC)
		for _, p := range appliance.Properties {
			v := env.Properties[p.Key]
			if p.Secret {
				scrubs = append(scrubs, support.Scrubs([]byte(v))...)
				if v != "" {
					v = support.Redacted
				}
			}
			fmt.Fprintf(&props, "%s = %q\n", p.Key, v)
		}
	}
	items = append(items,
		support.Item{Name: "appliance/properties.txt", Content: []byte(props.String())},
		support.Item{Name: "appliance/state.txt", Commands: [][]string{{"sh", "-c", "head -v " + stateDir + "/* /etc/vmroute/appliance-version"}}},
		support.Item{Name: "appliance/console.txt", Content: []byte(render(snapshot()))},
	)
	if out == "" {
		out = support.DefaultName(time.Now())
	}
	if err := support.WriteFile(context.Background(), out, items, scrubs, support.Exec); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(os.Stderr, "wrote %s: no secret is in it, but read it before you send it\n", out)
	}
	return nil
}
