package nsqpub

import (
	"fmt"
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

// logger is what SetLogger takes, as in go-nsq; *log.Logger satisfies it.
type logger interface {
	Output(calldepth int, s string) error
}

// logState is a Producer's logger and level. Nothing is logged until a
// logger is set.
type logState struct {
	mu     sync.Mutex
	l      logger
	lvl    LogLevel
	prefix string
}

// printf logs at lvl if a logger is set and lvl is at or above its level.
func (s *logState) printf(lvl LogLevel, format string, args ...interface{}) {
	s.mu.Lock()
	l, min := s.l, s.lvl
	s.mu.Unlock()
	if l == nil || lvl < min {
		return
	}
	l.Output(2, fmt.Sprintf("%s nsqpub %s %s", lvl, s.prefix, fmt.Sprintf(format, args...)))
}

// SetLogger makes the Producer log lines at lvl and above to l (nil turns
// logging off, the default). Safe for concurrent use.
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
