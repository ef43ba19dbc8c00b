package nsqpub

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// LogLevel is the severity of a log line, as in go-nsq.
type LogLevel int

// Log levels, lowest first.
const (
	LogLevelDebug LogLevel = iota
	LogLevelInfo
	LogLevelWarning
	LogLevelError
	LogLevelMax = iota - 1
)

// String returns the level's three-letter tag, as go-nsq prints it.
func (l LogLevel) String() string {
	switch l {
	case LogLevelDebug:
		return "DBG"
	case LogLevelInfo:
		return "INF"
	case LogLevelWarning:
		return "WRN"
	case LogLevelError:
		return "ERR"
	}
	return fmt.Sprintf("LogLevel(%d)", int(l))
}

// slogLevel maps a LogLevel to its slog.Level.
func (l LogLevel) slogLevel() slog.Level {
	switch l {
	case LogLevelDebug:
		return slog.LevelDebug
	case LogLevelInfo:
		return slog.LevelInfo
	case LogLevelWarning:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// logger is what SetLogger and SetLoggerForLevel take, as in go-nsq;
// *log.Logger satisfies it.
type logger interface {
	Output(calldepth int, s string) error
}

// logState is where a Producer logs: go-nsq style loggers, one per level,
// set with SetLogger or SetLoggerForLevel, and/or the *slog.Logger of
// Config.Logger. Nothing is logged unless one is set.
type logState struct {
	addr string
	slog *slog.Logger // from Config.Logger; fixed after NewProducer

	mu  sync.Mutex
	l   [LogLevelMax + 1]logger // by level
	lvl LogLevel                // lines below it are dropped
}

// newLogState returns the log of a Producer or pool: no go-nsq style logger
// yet, and the level LogLevelInfo, go-nsq's default.
func newLogState(addr string, sl *slog.Logger) *logState {
	return &logState{addr: addr, slog: sl, lvl: LogLevelInfo}
}

// log records an event: msg with slog-style key/value pairs. The addr of
// the nsqd is always added.
func (s *logState) log(lvl LogLevel, msg string, kv ...any) {
	if s.slog != nil && s.slog.Enabled(context.Background(), lvl.slogLevel()) {
		s.slog.Log(context.Background(), lvl.slogLevel(), msg, append([]any{"addr", s.addr}, kv...)...)
	}
	if lvl < LogLevelDebug || lvl > LogLevelMax {
		return
	}
	s.mu.Lock()
	l, min := s.l[lvl], s.lvl
	s.mu.Unlock()
	if l == nil || lvl < min {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s nsqpub (%s) %s", lvl, s.addr, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	l.Output(2, b.String())
}

// setAll sets l for every level and the minimum level.
func (s *logState) setAll(l logger, lvl LogLevel) {
	s.mu.Lock()
	for i := range s.l {
		s.l[i] = l
	}
	s.lvl = lvl
	s.mu.Unlock()
}

// setFor sets l for the lines of one level; other levels are ignored.
func (s *logState) setFor(l logger, lvl LogLevel) {
	if lvl < LogLevelDebug || lvl > LogLevelMax {
		return
	}
	s.mu.Lock()
	s.l[lvl] = l
	s.mu.Unlock()
}

// copyTo gives d the loggers and minimum level of s.
func (s *logState) copyTo(d *logState) {
	s.mu.Lock()
	l, lvl := s.l, s.lvl
	s.mu.Unlock()
	d.mu.Lock()
	d.l, d.lvl = l, lvl
	d.mu.Unlock()
}

// setLevel sets the minimum level.
func (s *logState) setLevel(lvl LogLevel) {
	s.mu.Lock()
	s.lvl = lvl
	s.mu.Unlock()
}

// SetLogger makes the Producer log lines at lvl and above to l, formatted as
// go-nsq does; nil turns this logging off (the default: unlike go-nsq,
// nsqpub logs nothing to stderr unless told to). It replaces the loggers
// set by SetLoggerForLevel. For structured logging set Config.Logger
// instead. Safe for concurrent use.
func (p *Producer) SetLogger(l logger, lvl LogLevel) { p.log.setAll(l, lvl) }

// SetLoggerForLevel makes l the logger of the lines of level lvl only, as
// go-nsq's does; nil silences that level. Lines below the level set by
// SetLogger or SetLoggerLevel (default LogLevelInfo) are still dropped. A
// level outside LogLevelDebug-LogLevelMax is ignored (go-nsq panics). Safe
// for concurrent use.
func (p *Producer) SetLoggerForLevel(l logger, lvl LogLevel) { p.log.setFor(l, lvl) }

// SetLoggerLevel changes the minimum level of the lines logged to the
// loggers set by SetLogger and SetLoggerForLevel (default LogLevelInfo).
// Safe for concurrent use.
func (p *Producer) SetLoggerLevel(lvl LogLevel) { p.log.setLevel(lvl) }
