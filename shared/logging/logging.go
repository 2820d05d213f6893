// Package logging sets up log/slog for the agents: one event per line,
// text or JSON, with lowercase stable keys (vm, site, prefix, peer, err).
package logging

import (
	"fmt"
	"io"
	"log/slog"
)

// Formats the agents accept.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format (FormatText or FormatJSON).
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case FormatText, "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want %q or %q", format, FormatText, FormatJSON)
	}
}
