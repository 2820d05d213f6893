package attrs

import "testing"

func TestParseCommunity(t *testing.T) {
	tests := []struct {
		in      string
		std     uint32
		large   LargeCommunity
		isLarge bool
		bad     bool
	}{
		{in: "no-export", std: 0xFFFFFF01},
		{in: "NO-ADVERTISE", std: 0xFFFFFF02},
		{in: "65001:100", std: 65001<<16 | 100},
		{in: "65535:65535", std: 0xFFFFFFFF},
		{in: "4200000000:1:2", large: LargeCommunity{4200000000, 1, 2}, isLarge: true},
		{in: "65536:1", bad: true},
		{in: "1:2:3:4", bad: true},
		{in: "65001", bad: true},
		{in: "a:b", bad: true},
		{in: "4294967296:1:1", bad: true},
	}
	for _, tt := range tests {
		std, large, isLarge, err := ParseCommunity(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("ParseCommunity(%q) error %v, want bad=%v", tt.in, err, tt.bad)
			continue
		}
		if !tt.bad && (std != tt.std || large != tt.large || isLarge != tt.isLarge) {
			t.Errorf("ParseCommunity(%q) = %#x %v %v", tt.in, std, large, isLarge)
		}
	}
}
