package plan

import (
	"errors"
	"fmt"
)

// FieldError is a problem with one configuration value. Key is the value's
// path as the routeragent's TOML file spells it ("subnets[1].gateways[0]"),
// so that the loader can name its line.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Check returns every problem of c as FieldErrors joined, or nil.
func (c *Config) Check() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Site == "" {
		bad("site", "missing")
	}
	for i, s := range c.Subnets {
		key := fmt.Sprintf("subnets[%d]", i)
		if !s.Prefix.IsValid() {
			bad(key+".prefix", "missing")
			continue
		}
		if s.Home == "" {
			bad(key+".home", "missing")
		}
		if len(s.Gateways) > 0 && s.Interface == "" {
			bad(key+".interface", "missing: gateways are announced on it")
		}
		for j, g := range s.Gateways {
			switch {
			case g.Is4() != s.Prefix.Addr().Is4():
				bad(fmt.Sprintf("%s.gateways[%d]", key, j), "%s is not of the family of %s", g, s.Prefix)
			case !s.Prefix.Contains(g) && !g.IsLinkLocalUnicast():
				bad(fmt.Sprintf("%s.gateways[%d]", key, j), "%s is outside %s", g, s.Prefix)
			}
		}
		for j, a := range s.Pinned {
			if !s.Prefix.Contains(a) {
				bad(fmt.Sprintf("%s.pinned[%d]", key, j), "%s is outside %s", a, s.Prefix)
			}
		}
		for j, a := range s.Reserved {
			if !s.Prefix.Contains(a) {
				bad(fmt.Sprintf("%s.reserved[%d]", key, j), "%s is outside %s", a, s.Prefix)
			}
		}
		if s.HostRouteCeiling < 0 {
			bad(key+".host_route_ceiling", "must not be negative")
		}
		for j, o := range c.Subnets[:i] {
			if o.Prefix.IsValid() && o.Prefix.Overlaps(s.Prefix) {
				bad(key+".prefix", "%s overlaps subnets[%d] %s", s.Prefix, j, o.Prefix)
			}
		}
	}
	g := c.Guards
	if g.HostRouteCeiling < 0 {
		bad("guards.host_route_ceiling", "must not be negative")
	}
	if g.TotalHostRouteCeiling < 0 {
		bad("guards.total_host_route_ceiling", "must not be negative")
	}
	if g.FlapMoves != 0 && (g.FlapMoves < 2 || g.FlapWindow <= 0) {
		bad("guards.flap_moves", "needs 2 or more moves and a flap_window above zero, or 0 to turn the guard off")
	}
	return errors.Join(errs...)
}
