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

// logger is what SetLogger takes, as in go-nsq; *log.Logger satisfies it.
type logger interface {
	Output(calldepth int, s string) error
}

// logState is where a Producer logs: a go-nsq style logger set with
// SetLogger, and/or the *slog.Logger of Config.Logger. Nothing is logged
// unless one is set.
type logState struct {
	addr string
	slog *slog.Logger // from Config.Logger; fixed after NewProducer

	mu  sync.Mutex
	l   logger
	lvl LogLevel
}

// log records an event: msg with slog-style key/value pairs. The addr of
// the nsqd is always added.
func (s *logState) log(lvl LogLevel, msg string, kv ...any) {
	if s.slog != nil && s.slog.Enabled(context.Background(), lvl.slogLevel()) {
		s.slog.Log(context.Background(), lvl.slogLevel(), msg, append([]any{"addr", s.addr}, kv...)...)
	}
	s.mu.Lock()
	l, min := s.l, s.lvl
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

// SetLogger makes the Producer log lines at lvl and above to l, formatted as
// go-nsq does; nil turns this logging off (the default). For structured
// logging set Config.Logger instead. Safe for concurrent use.
func (p *Producer) SetLogger(l logger, lvl LogLevel) {
	p.log.mu.Lock()
	p.log.l, p.log.lvl = l, lvl
	p.log.mu.Unlock()
}

// SetLoggerLevel changes the level of the logger set by SetLogger.
func (p *Producer) SetLoggerLevel(lvl LogLevel) {
	p.log.mu.Lock()
	p.log.lvl = lvl
	p.log.mu.Unlock()
}
