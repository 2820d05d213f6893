package bgp

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

func TestBenignGoBGPMessagesAreNoFaults(t *testing.T) {
	var out strings.Builder
	g := newGobgpLogger(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	g.Error("failed to close existing tcp connection", gobgplog.Fields{"Key": "192.0.2.1", "Error": errors.New("use of closed network connection")})
	g.Warn("No matching path for withdraw found", gobgplog.Fields{"Key": "192.0.2.1"})
	if out.Len() != 0 || g.lastError("192.0.2.1") != "" {
		t.Errorf("benign messages logged as faults:\n%s\nlast error %q", out.String(), g.lastError("192.0.2.1"))
	}
	g.Warn("failed to connect", gobgplog.Fields{"Key": "192.0.2.1", "Error": errors.New("connection refused")})
	if !strings.Contains(out.String(), "level=WARN") || !strings.Contains(g.lastError("192.0.2.1"), "connection refused") {
		t.Errorf("a real fault: %q, last error %q", out.String(), g.lastError("192.0.2.1"))
	}
}
