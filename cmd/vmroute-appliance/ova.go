package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vmroute/vmroute/hostagent/appliance"
)

// ova writes the OVA: a tar of the OVF descriptor (first, as the format
// wants), its manifest (SHA256 of each file), and the disk, once its
// header says it is what the descriptor declares.
func ova(vmdk string, capacity, populated int64, version, out string) error {
	src, err := os.Open(vmdk)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := appliance.CheckVMDK(src); err != nil {
		return fmt.Errorf("%s: %w", vmdk, err)
	}
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	base := "vmroute-hostagent-appliance-" + version
	disk := appliance.Disk{File: base + "-disk1.vmdk", Size: fi.Size(), Capacity: capacity, Populated: populated}
	desc, err := appliance.Descriptor(version, disk)
	if err != nil {
		return err
	}
	diskSum, err := fileSHA256(vmdk)
	if err != nil {
		return err
	}
	descSum := sha256.Sum256(desc)
	manifest := fmt.Sprintf("SHA256(%s.ovf)= %s\nSHA256(%s)= %s\n", base, hex.EncodeToString(descSum[:]), disk.File, diskSum)

	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	tw := tar.NewWriter(f)
	now := time.Now()
	for _, m := range []struct {
		name string
		data []byte
	}{{base + ".ovf", desc}, {base + ".mf", []byte(manifest)}} {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), ModTime: now, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		if _, err := tw.Write(m.data); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: disk.File, Mode: 0o644, Size: fi.Size(), ModTime: now, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, io.NewSectionReader(src, 0, fi.Size())); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return err
	}
	fmt.Printf("%s: %s, disk %s\n", out, filepath.Base(base+".ovf"), disk.File)
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
