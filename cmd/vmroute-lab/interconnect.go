package main

import (
	"fmt"
	"os"
	"os/exec"
)

// startInterconnect joins the sites' bridges, whose ports xa and xb wait
// in namespace l2, adding interconnectDelay each way. With mode "netem",
// or "auto" where the kernel has sch_netem, a bridge joins the two ports
// and tc netem delays what leaves each; with "relay", or "auto" without
// netem, the relay (this binary, in l2) forwards between them. It says
// which it chose; stop ends the relay.
func startInterconnect(mode, self string) (stop func(), err error) {
	if mode != "relay" {
		err := netem()
		if err == nil {
			fmt.Printf("the interconnect: tc netem, %s each way\n", interconnectDelay)
			return func() {}, nil
		}
		if mode == "netem" {
			return nil, err
		}
	}
	ic := exec.Command("ip", "netns", "exec", prefix+"l2", self, "relay", "xa", "xb")
	ic.Stderr = os.Stderr
	if err := ic.Start(); err != nil {
		return nil, err
	}
	fmt.Printf("the interconnect: the relay, %s each way (no sch_netem in this kernel, or -interconnect relay)\n", interconnectDelay)
	return func() { _ = ic.Process.Kill(); _ = ic.Wait() }, nil
}

// netem delays every frame leaving xa and xb, then bridges them: a frame
// from site A's bridge leaves through xb, one from B's through xa. The
// first qdisc fails, and nothing is changed, where sch_netem is missing.
func netem() error {
	delay := fmt.Sprintf("%dms", interconnectDelay.Milliseconds())
	steps := [][]string{
		{"tc", "-n", prefix + "l2", "qdisc", "add", "dev", "xa", "root", "netem", "delay", delay},
		{"tc", "-n", prefix + "l2", "qdisc", "add", "dev", "xb", "root", "netem", "delay", delay},
		{"ip", "-n", prefix + "l2", "link", "add", "br-ic", "type", "bridge"},
		{"ip", "-n", prefix + "l2", "link", "set", "xa", "master", "br-ic"},
		{"ip", "-n", prefix + "l2", "link", "set", "xb", "master", "br-ic"},
		{"ip", "-n", prefix + "l2", "link", "set", "br-ic", "up"},
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return fmt.Errorf("tc netem: %w", err)
		}
	}
	return nil
}
