package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmroute/vmroute/hostagent/appliance"
)

// stateDir holds what the console shows of this boot's steps: the
// configure step's error or notice, the clock's source.
const stateDir = "/run/vmroute-appliance"

var (
	// errorFile holds the reason the hostagent stays stopped.
	errorFile = filepath.Join(stateDir, "error")
	// noticeFile says the hostagent runs on the last good configuration.
	noticeFile = filepath.Join(stateDir, "notice")
	// lastGoodEnv is the last OVF environment that configured the
	// appliance and passed --check-config: root's alone, for it holds
	// every secret.
	lastGoodEnv = "/var/lib/vmroute-appliance/ovf-env.xml"
)

// errNoEnv is a boot without an OVF environment.
var errNoEnv = errors.New("no OVF environment: neither VMware Tools (guestinfo.ovfEnv) nor a CD-ROM with ovf-env.xml has it")

// configure reads the OVF environment, writes the appliance's files,
// applies the host name, root password and SSH settings, and checks the
// hostagent's configuration. A boot without an environment (after an HA
// restart or a host crash, or on an ESXi that was given none) runs on
// the last good one, and says so on the console. On any error, it
// records the reason for the console and fails, so that the hostagent
// (which requires this step) stays stopped. No secret reaches the log
// or the error.
func configure(log *slog.Logger, envFile string) error {
	notice, err := configureSteps(log, envFile)
	if mkErr := os.MkdirAll(stateDir, 0o755); mkErr != nil {
		return errors.Join(err, mkErr)
	}
	_ = os.Remove(noticeFile)
	if err != nil {
		_ = os.WriteFile(errorFile, []byte(err.Error()+"\n"), 0o644)
		return fmt.Errorf("the hostagent stays stopped: %w", err)
	}
	_ = os.Remove(errorFile)
	if notice != "" {
		log.Warn(notice)
		_ = os.WriteFile(noticeFile, []byte(notice+"\n"), 0o644)
	}
	log.Info("configured from the OVF properties", "config", appliance.ConfigFile)
	return nil
}

// configureSteps configures the appliance; notice is set when it ran on
// the last good environment.
func configureSteps(log *slog.Logger, envFile string) (notice string, err error) {
	env, source, err := readEnv(envFile)
	env, source, notice, err = pickEnv(env, source, err, lastGoodEnv)
	if err != nil {
		return "", err
	}
	log.Info("OVF environment read", "source", source)
	if err := apply(env); err != nil {
		return "", err
	}
	if source != lastGoodEnv {
		if err := saveEnv(env); err != nil {
			return "", fmt.Errorf("keep the environment as the last good one: %w", err)
		}
	}
	return notice, nil
}

// pickEnv returns the environment to configure from, as readEnv found
// it: this boot's, else (when there is none) the last good one in
// lastGood, with a notice saying so. An environment that is present is
// always this boot's, valid or not: only a missing one falls back.
func pickEnv(env []byte, source string, err error, lastGood string) ([]byte, string, string, error) {
	if !errors.Is(err, errNoEnv) {
		return env, source, "", err
	}
	fi, statErr := os.Stat(lastGood)
	if statErr != nil {
		return nil, "", "", fmt.Errorf("%w; deploy the OVA with its vApp options, whose OVF environment transport is VMware Tools", err)
	}
	if env, err = os.ReadFile(lastGood); err != nil {
		return nil, "", "", fmt.Errorf("the last good OVF environment: %w", err)
	}
	return env, lastGood, fmt.Sprintf("no OVF environment at this boot: running on the last good configuration, of %s", fi.ModTime().UTC().Format("2006-01-02 15:04 MST")), nil
}

// saveEnv keeps an environment that configured the appliance.
func saveEnv(env []byte) error {
	if err := os.MkdirAll(filepath.Dir(lastGoodEnv), 0o700); err != nil {
		return err
	}
	return writeFile(appliance.File{Path: lastGoodEnv, Mode: 0o600, Content: env})
}

// apply renders an environment and applies it.
func apply(envDoc []byte) error {
	env, err := appliance.Env(bytes.NewReader(envDoc))
	if err != nil {
		return err
	}
	setup, err := appliance.Render(env)
	if err != nil {
		return err
	}
	for _, f := range setup.Files {
		if err := writeFile(f); err != nil {
			return err
		}
	}
	if err := os.WriteFile("/etc/hostname", []byte(setup.Hostname+"\n"), 0o644); err != nil {
		return err
	}
	if err := syscall.Sethostname([]byte(setup.Hostname)); err != nil {
		return fmt.Errorf("host name: %w", err)
	}
	if setup.RootPassword != "" {
		cmd := exec.Command("chpasswd")
		if setup.RootPasswordHashed {
			cmd.Args = append(cmd.Args, "--encrypted")
		}
		cmd.Stdin = strings.NewReader("root:" + setup.RootPassword + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("property access.root_password: chpasswd: %v: %s", err, strings.TrimSpace(string(out)))
		}
	} else if out, err := exec.Command("passwd", "--lock", "root").CombinedOutput(); err != nil {
		return fmt.Errorf("lock root's password: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := ssh(setup.SSH); err != nil {
		return err
	}
	out, err := exec.Command("vmroute-hostagent", "--check-config", "--config", appliance.ConfigFile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("the hostagent refuses the configuration made from the properties: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

// readEnv finds the OVF environment: the file given, else VMware Tools'
// guestinfo.ovfEnv, else ovf-env.xml on a CD-ROM (the ISO transport,
// which the descriptor does not offer: for the tests under qemu), which
// may take a few seconds to appear after boot.
func readEnv(envFile string) ([]byte, string, error) {
	if envFile != "" {
		b, err := os.ReadFile(envFile)
		return b, envFile, err
	}
	if _, err := exec.LookPath("vmtoolsd"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "vmtoolsd", "--cmd", "info-get guestinfo.ovfEnv").Output()
		cancel()
		if err == nil && len(bytes.TrimSpace(out)) > 0 {
			return out, "guestinfo.ovfEnv", nil
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		devs, _ := filepath.Glob("/dev/sr*")
		for _, dev := range devs {
			if b, err := fromCDROM(dev); err == nil {
				return b, dev, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, "", errNoEnv
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// fromCDROM reads ovf-env.xml from an ISO 9660 CD-ROM.
func fromCDROM(dev string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "ovfenv-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(dir)
	if err := syscall.Mount(dev, dir, "iso9660", syscall.MS_RDONLY, ""); err != nil {
		return nil, err
	}
	defer func() { _ = syscall.Unmount(dir, 0) }()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := strings.ToLower(strings.TrimSuffix(e.Name(), ";1"))
		if name == "ovf-env.xml" || name == "ovf_env.xml" {
			return os.ReadFile(filepath.Join(dir, e.Name()))
		}
	}
	return nil, fmt.Errorf("%s has no ovf-env.xml", dev)
}

// writeFile writes one file whole: to a temporary file, then renamed.
func writeFile(f appliance.File) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(f.Content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(os.FileMode(f.Mode)); err != nil {
		tmp.Close()
		return err
	}
	if f.Group != "" {
		g, err := user.LookupGroup(f.Group)
		if err != nil {
			tmp.Close()
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := tmp.Chown(0, gid); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.Path)
}

// ssh turns the SSH server on (with host keys of its own, made at its
// first start) or off.
func ssh(on bool) error {
	if !on {
		out, err := exec.Command("systemctl", "disable", "--now", "--no-block", "ssh.service").CombinedOutput()
		if err != nil && !strings.Contains(string(out), "does not exist") {
			return fmt.Errorf("turn SSH off: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if out, err := exec.Command("ssh-keygen", "-A").CombinedOutput(); err != nil {
		return fmt.Errorf("SSH host keys: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("systemctl", "enable", "--now", "--no-block", "ssh.service").CombinedOutput(); err != nil {
		return fmt.Errorf("turn SSH on: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
