package wire

import (
	"fmt"
	"net"
)

// MAC is an EUI-48 Ethernet address. Its text form is "aa:bb:cc:dd:ee:ff".
type MAC [6]byte

// ParseMAC parses an EUI-48 address in any form net.ParseMAC accepts.
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return MAC{}, fmt.Errorf("%q is not an Ethernet (EUI-48) address", s)
	}
	return MAC(hw), nil
}

// String returns the address in lower-case colon form.
func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// HardwareAddr returns the address as a net.HardwareAddr.
func (m MAC) HardwareAddr() net.HardwareAddr { return append(net.HardwareAddr(nil), m[:]...) }

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// IsUnicast reports whether m is a non-zero individual address.
func (m MAC) IsUnicast() bool { return !m.IsZero() && m[0]&1 == 0 }

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
