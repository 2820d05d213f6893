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

// ParseLevel reads a configured level: "debug", "info", "warn" or "error".
func ParseLevel(level string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return 0, fmt.Errorf("log level %q: %w", level, err)
	}
	return l, nil
}

// Setup returns a logger writing to w at the configured level and format,
// and that level, which a reload may set.
func Setup(w io.Writer, level, format string) (*slog.Logger, *slog.LevelVar, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	v := new(slog.LevelVar)
	v.Set(l)
	log, err := New(w, v, format)
	return log, v, err
}

// New returns a logger writing to w at level in format (FormatText or
// FormatJSON). A *slog.LevelVar as level lets a reload change it.
func New(w io.Writer, level slog.Leveler, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case FormatText, "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want %q or %q", format, FormatText, FormatJSON)
	}
}
