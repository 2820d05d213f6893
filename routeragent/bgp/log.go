package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// gobgpLogger hands GoBGP's log lines to slog, and keeps the last error
// GoBGP logged for each peer, which status shows: a failed connect is
// told nowhere else.
type gobgpLogger struct {
	log   *slog.Logger
	mu    sync.Mutex
	level gobgplog.LogLevel
	last  map[string]string // peer address -> last error
	freed map[string]int    // peer address -> sessions whose goroutines all ended
}

func newGobgpLogger(l *slog.Logger) *gobgpLogger {
	return &gobgpLogger{log: l.With("component", "gobgp"), level: gobgplog.InfoLevel, last: map[string]string{}, freed: map[string]int{}}
}

// benign are GoBGP's messages that look like faults and are none: on a
// neighbor reload it closes a connection it already closed, and on a stop
// that withdraws everything it finds some paths already gone. They are
// logged at debug, and are no session's last error.
var benign = map[string]bool{
	"failed to close existing tcp connection": true,
	"No matching path for withdraw found":     true,
}

func (g *gobgpLogger) emit(level slog.Level, gl gobgplog.LogLevel, msg string, f gobgplog.Fields) {
	if benign[msg] {
		level, gl = slog.LevelDebug, gobgplog.DebugLevel
	}
	key, _ := f["Key"].(string)
	if msg == "freed fsm.h" && key != "" {
		g.mu.Lock()
		g.freed[key]++
		g.mu.Unlock()
	}
	if err, ok := f["Error"]; ok && key != "" && gl <= gobgplog.WarnLevel {
		g.mu.Lock()
		g.last[key] = fmt.Sprintf("%s: %v", msg, err)
		g.mu.Unlock()
	}
	if gl > g.GetLevel() {
		return
	}
	args := make([]any, 0, 2*len(f))
	for k, v := range f {
		switch k {
		case "Key":
			args = append(args, "peer", v)
		case "Error":
			args = append(args, "err", v)
		default:
			args = append(args, lower(k), v)
		}
	}
	g.log.Log(context.Background(), level, msg, args...)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// freedCount is how many of peer's sessions GoBGP has finished with: it
// logs "freed fsm.h" once every goroutine of a deleted peer has ended.
func (g *gobgpLogger) freedCount(peer string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.freed[peer]
}

func (g *gobgpLogger) lastError(peer string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last[peer]
}

func (g *gobgpLogger) Panic(msg string, f gobgplog.Fields) {
	g.emit(slog.LevelError, gobgplog.PanicLevel, msg, f)
	panic(msg)
}
func (g *gobgpLogger) Fatal(msg string, f gobgplog.Fields) {
	g.emit(slog.LevelError, gobgplog.FatalLevel, msg, f)
}
func (g *gobgpLogger) Error(msg string, f gobgplog.Fields) {
	g.emit(slog.LevelError, gobgplog.ErrorLevel, msg, f)
}
func (g *gobgpLogger) Warn(msg string, f gobgplog.Fields) {
	g.emit(slog.LevelWarn, gobgplog.WarnLevel, msg, f)
}
func (g *gobgpLogger) Info(msg string, f gobgplog.Fields) {
	g.emit(slog.LevelInfo, gobgplog.InfoLevel, msg, f)
}
func (g *gobgpLogger) Debug(msg string, f gobgplog.Fields) {
	g.emit(slog.LevelDebug, gobgplog.DebugLevel, msg, f)
}
func (g *gobgpLogger) SetLevel(l gobgplog.LogLevel) {
	g.mu.Lock()
	g.level = l
	g.mu.Unlock()
}
func (g *gobgpLogger) GetLevel() gobgplog.LogLevel {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.level
}
