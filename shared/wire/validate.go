package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid marks every error of Decode and Validate: the report is
// malformed and nothing of it may be applied.
var ErrInvalid = errors.New("invalid report")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Decode reads one JSON report from r, rejecting keys given twice or not
// in lowercase and trailing data, and validates it. Fields this version
// does not know are a newer hostagent's optional fields: they are
// ignored, and named in the report's Ignored (see Report). Every error
// wraps ErrInvalid and names the place by its JSON path.
func Decode(r io.Reader) (*Report, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, invalid("read: %v", err)
	}
	return DecodeBytes(b)
}

// DecodeBytes is Decode of a body already read.
func DecodeBytes(b []byte) (*Report, error) {
	if err := checkKeys(b); err != nil {
		return nil, err
	}
	rep, err := decode(b, true)
	if err != nil && isUnknownField(err) {
		// A newer hostagent's optional fields: read the report without
		// them (the fast path above costs a report of this version
		// nothing), and name them.
		if rep, err = decode(b, false); err == nil {
			rep.Ignored = unknownFields(b)
		}
	}
	if err != nil {
		return nil, decodeError(b, err)
	}
	if err := rep.Validate(); err != nil {
		return nil, err
	}
	return rep, nil
}

// errTrailing is decode's error for data after the report.
type errTrailing struct{ offset int64 }

func (e errTrailing) Error() string {
	return fmt.Sprintf("trailing data after the report at byte %d", e.offset)
}

// decode reads one report from b, refusing fields it does not know when
// strict.
func decode(b []byte, strict bool) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing{dec.InputOffset()}
	}
	return &rep, nil
}

const unknownFieldPrefix = "json: unknown field "

func isUnknownField(err error) bool { return strings.HasPrefix(err.Error(), unknownFieldPrefix) }

// decodeError turns encoding/json's errors into one that says where.
func decodeError(b []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var trailing errTrailing
	switch {
	case errors.As(err, &trailing):
		return invalid("%v", trailing)
	case errors.As(err, &syn):
		return invalid("malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.Is(err, io.EOF):
		return invalid("empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body ends inside the JSON document")
	}
	if errors.As(err, &typ) {
		kind, _, _ := strings.Cut(typ.Value, " ")
		if path, _ := locate(b, typ.Field, kind); path != "" {
			return invalid("%s: %s is not a valid %s", path, typ.Value, typ.Type)
		}
		return invalid("field %q: %s is not a valid %s", typ.Field, typ.Value, typ.Type)
	}
	// The text decoders of MACs, addresses and times end here.
	if path, msg := locate(b, "", ""); path != "" {
		return invalid("%s: %s", path, msg)
	}
	return invalid("%v", err)
}

// Validate checks every field of r and returns the first problem, naming
// the field by its JSON path. Every error wraps ErrInvalid.
func (r *Report) Validate() error {
	if err := checkName("cluster", r.Cluster); err != nil {
		return err
	}
	if r.Generation == 0 || r.Generation > MaxGeneration {
		return invalid("generation: %d is not from 1 to %d", r.Generation, uint64(MaxGeneration))
	}
	switch r.Kind {
	case KindFull:
		if r.Base != 0 {
			return invalid("base: a full report has no base generation")
		}
		if len(r.Removed) > 0 {
			return invalid("removed: a full report removes nothing; it lists what is there")
		}
	case KindDelta:
		if r.Base == 0 || r.Base >= r.Generation {
			return invalid("base: a delta needs a base generation below its generation %d, got %d", r.Generation, r.Base)
		}
	default:
		return invalid("kind: %q is neither %q nor %q", r.Kind, KindFull, KindDelta)
	}
	if len(r.VMs)+len(r.Removed) > MaxVMs {
		return invalid("vms: %d entries, more than the limit of %d", len(r.VMs)+len(r.Removed), MaxVMs)
	}
	seen := make(map[string]int, len(r.VMs))
	for i := range r.VMs {
		vm := &r.VMs[i]
		if err := vm.validate(fmt.Sprintf("vms[%d]", i)); err != nil {
			return err
		}
		if j, dup := seen[vm.UUID]; dup {
			return invalid("vms[%d].uuid: %q is listed twice (also vms[%d])", i, vm.UUID, j)
		}
		seen[vm.UUID] = i
	}
	removed := make(map[string]bool, len(r.Removed))
	for i, id := range r.Removed {
		path := fmt.Sprintf("removed[%d]", i)
		if err := checkUUID(path, id); err != nil {
			return err
		}
		if _, both := seen[id]; both {
			return invalid("%s: %q is both listed and removed", path, id)
		}
		if removed[id] {
			return invalid("%s: %q is removed twice", path, id)
		}
		removed[id] = true
	}
	return nil
}

func (vm *VM) validate(path string) error {
	if err := checkUUID(path+".uuid", vm.UUID); err != nil {
		return err
	}
	if vm.BIOSUUID != "" {
		if err := checkUUID(path+".bios_uuid", vm.BIOSUUID); err != nil {
			return err
		}
	}
	if err := checkText(path+".name", vm.Name, true); err != nil {
		return err
	}
	if err := checkName(path+".site", vm.Site); err != nil {
		return err
	}
	switch vm.PowerState {
	case PoweredOn, PoweredOff, Suspended:
	default:
		return invalid("%s.power_state: %q is not one of %s, %s, %s", path, vm.PowerState, PoweredOn, PoweredOff, Suspended)
	}
	if len(vm.NICs) > MaxNICs {
		return invalid("%s.nics: %d adapters, more than the limit of %d", path, len(vm.NICs), MaxNICs)
	}
	macs := make(map[MAC]bool, len(vm.NICs))
	for i, nic := range vm.NICs {
		p := fmt.Sprintf("%s.nics[%d]", path, i)
		if !nic.MAC.IsUnicast() {
			return invalid("%s.mac: %s is not a unicast Ethernet address", p, nic.MAC)
		}
		if macs[nic.MAC] {
			return invalid("%s.mac: %s is listed twice in this VM", p, nic.MAC)
		}
		macs[nic.MAC] = true
		if err := checkText(p+".network", nic.Network, true); err != nil {
			return err
		}
		if len(nic.Addresses) > MaxAddresses {
			return invalid("%s.addresses: %d addresses, more than the limit of %d", p, len(nic.Addresses), MaxAddresses)
		}
		for j, a := range nic.Addresses {
			ap := fmt.Sprintf("%s.addresses[%d]", p, j)
			if !a.IsValid() {
				return invalid("%s: empty address", ap)
			}
			if a.Zone() != "" {
				return invalid("%s: %s carries a zone; send the address alone", ap, a)
			}
			if a.Is4In6() {
				return invalid("%s: %s is IPv4-mapped; send %s", ap, a, a.Unmap())
			}
			for _, b := range nic.Addresses[:j] {
				if a == b {
					return invalid("%s: %s is listed twice on this adapter", ap, a)
				}
			}
		}
	}
	return nil
}

// checkName accepts a site or cluster name: 1 to 255 printable characters.
func checkName(path, s string) error {
	if s == "" {
		return invalid("%s: missing", path)
	}
	return checkText(path, s, false)
}

// checkUUID accepts vCenter's instance UUIDs and, as vcsim and older
// inventories use, any short token of letters, digits and dashes.
func checkUUID(path, s string) error {
	if s == "" {
		return invalid("%s: missing", path)
	}
	if len(s) > 64 {
		return invalid("%s: %d characters, more than 64", path, len(s))
	}
	for _, c := range s {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return invalid("%s: %q holds %q; a UUID has only letters, digits and dashes", path, s, c)
		}
	}
	return nil
}

// checkText accepts printable UTF-8 of at most MaxNameLen bytes.
func checkText(path, s string, mayBeEmpty bool) error {
	if s == "" && !mayBeEmpty {
		return invalid("%s: missing", path)
	}
	if len(s) > MaxNameLen {
		return invalid("%s: %d bytes, more than %d", path, len(s), MaxNameLen)
	}
	if !utf8.ValidString(s) {
		return invalid("%s: not valid UTF-8", path)
	}
	if i := bytes.IndexFunc([]byte(s), isControl); i >= 0 {
		return invalid("%s: control character at byte %d", path, i)
	}
	return nil
}

// isControl tells the characters a name may not hold: all but the
// printable ones and the space.
func isControl(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }
