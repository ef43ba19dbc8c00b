package nsqpub

import (
	"math"
	"math/rand/v2"
	"time"
)

// BackoffStrategy computes how long a go-nsq Consumer backs off after a
// given number of failed attempts. A Producer does not back off: the type
// exists so that a Config shared with go-nsq consumers compiles and its
// BackoffStrategy field and backoff_strategy option are accepted.
type BackoffStrategy interface {
	Calculate(attempt int) time.Duration
}

// ExponentialStrategy backs off BackoffMultiplier × 2^attempt, with the
// multiplier of the Config it was set on (NewConfig or Set with
// backoff_strategy), or 1s if it was set on none. It is go-nsq's default
// strategy. Calculate is safe for concurrent use while the Config is not
// modified.
type ExponentialStrategy struct {
	cfg *Config
}

// Calculate returns BackoffMultiplier × 2^attempt.
func (s *ExponentialStrategy) Calculate(attempt int) time.Duration {
	return backoffCeiling(s.cfg, attempt)
}

func (s *ExponentialStrategy) setConfig(c *Config) { s.cfg = c }

// FullJitterStrategy backs off a random duration in [0, BackoffMultiplier ×
// 2^attempt), spreading the retries of many consumers. The multiplier is
// found as for ExponentialStrategy. Calculate is safe for concurrent use
// while the Config is not modified.
type FullJitterStrategy struct {
	cfg *Config
}

// Calculate returns a random duration in [0, BackoffMultiplier × 2^attempt),
// or 0 if that bound is not positive.
func (s *FullJitterStrategy) Calculate(attempt int) time.Duration {
	ceiling := backoffCeiling(s.cfg, attempt)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling)))
}

func (s *FullJitterStrategy) setConfig(c *Config) { s.cfg = c }

// backoffCeiling is c's BackoffMultiplier (1s without a Config) × 2^attempt.
func backoffCeiling(c *Config, attempt int) time.Duration {
	multiplier := time.Second
	if c != nil {
		multiplier = c.BackoffMultiplier
	}
	return multiplier * time.Duration(math.Pow(2, float64(attempt)))
}
