package appliance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
)

// VMDK is what the appliance's disk declares of itself in its sparse
// extent header and its embedded descriptor.
type VMDK struct {
	// CreateType is the descriptor's createType ("streamOptimized").
	CreateType string
	// AdapterType is ddb.adapterType: the controller kind the disk was
	// made for ("lsilogic" for any SCSI controller, PVSCSI included:
	// the VMDK format knows ide, buslogic, lsilogic and legacyESX).
	AdapterType string
}

// The sparse extent header's fields (VMware's Virtual Disk Format 5.0).
const (
	vmdkMagic          = 0x564d444b // "KDMV"
	vmdkCompressed     = 1 << 16    // grains are compressed
	vmdkMarkers        = 1 << 17    // the stream's metadata markers
	vmdkDeflate        = 1          // compressAlgorithm: RFC 1951
	vmdkHeaderSize     = 512
	vmdkMaxDescriptor  = 1 << 20
	vmdkStreamVersion3 = 3
)

var (
	vmdkCreateTypeRE  = regexp.MustCompile(`(?m)^createType\s*=\s*"([^"]*)"`)
	vmdkAdapterTypeRE = regexp.MustCompile(`(?m)^ddb\.adapterType\s*=\s*"([^"]*)"`)
)

// CheckVMDK reads a VMDK's header and descriptor and says what is not
// as vSphere imports it from an OVA: a streamOptimized extent (version
// 3, deflate-compressed grains, markers) made for a SCSI controller, as the descriptor's PVSCSI
// controller is. A different qemu-img may write another format without
// failing; this is where the build notices.
func CheckVMDK(r io.ReaderAt) (VMDK, error) {
	var h [vmdkHeaderSize]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return VMDK{}, fmt.Errorf("VMDK header: %w", err)
	}
	le := binary.LittleEndian
	if m := le.Uint32(h[0:]); m != vmdkMagic {
		return VMDK{}, fmt.Errorf("VMDK header: magic %#x, not a sparse extent (KDMV)", m)
	}
	version, flags := le.Uint32(h[4:]), le.Uint32(h[8:])
	descOffset, descSize := le.Uint64(h[28:]), le.Uint64(h[36:])
	algorithm := le.Uint16(h[77:])
	if version != vmdkStreamVersion3 {
		return VMDK{}, fmt.Errorf("VMDK header: version %d, want 3 (streamOptimized)", version)
	}
	if flags&vmdkCompressed == 0 {
		return VMDK{}, fmt.Errorf("VMDK header: flags %#x: grains not compressed", flags)
	}
	if flags&vmdkMarkers == 0 {
		return VMDK{}, fmt.Errorf("VMDK header: flags %#x: no stream markers", flags)
	}
	if algorithm != vmdkDeflate {
		return VMDK{}, fmt.Errorf("VMDK header: compression algorithm %d, want 1 (deflate)", algorithm)
	}
	if descOffset == 0 || descSize == 0 || descSize*512 > vmdkMaxDescriptor {
		return VMDK{}, fmt.Errorf("VMDK header: embedded descriptor at sector %d, %d sectors", descOffset, descSize)
	}
	desc := make([]byte, descSize*512)
	if _, err := r.ReadAt(desc, int64(descOffset)*512); err != nil {
		return VMDK{}, fmt.Errorf("VMDK descriptor: %w", err)
	}
	desc, _, _ = bytes.Cut(desc, []byte{0})
	var v VMDK
	if m := vmdkCreateTypeRE.FindSubmatch(desc); m != nil {
		v.CreateType = string(m[1])
	}
	if m := vmdkAdapterTypeRE.FindSubmatch(desc); m != nil {
		v.AdapterType = string(m[1])
	}
	if v.CreateType != "streamOptimized" {
		return v, fmt.Errorf("VMDK descriptor: createType %q, want streamOptimized", v.CreateType)
	}
	if v.AdapterType != "lsilogic" {
		return v, fmt.Errorf("VMDK descriptor: ddb.adapterType %q, want lsilogic: the disk sits on a SCSI controller (PVSCSI)", v.AdapterType)
	}
	return v, nil
}
