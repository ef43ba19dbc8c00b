package nsqpub

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// The coerce functions convert a value given to Config.Set to a field's
// type, accepting exactly the Go types go-nsq's Set accepts for that type,
// so that a value go-nsq takes is taken here and one it refuses is refused.

var errValueType = errors.New("invalid value type")

// signed returns v as an int64 if it is an int, int16, int32 or int64 (the
// signed types go-nsq converts; int8 is not one).
func signed(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

// unsigned returns v as a uint64 if it is a uint, uint16, uint32 or uint64.
func unsigned(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	}
	return 0, false
}

// coerceDuration takes a time.Duration, a string for time.ParseDuration, or
// an integer number of milliseconds.
func coerceDuration(v any) (time.Duration, error) {
	switch v := v.(type) {
	case time.Duration:
		return v, nil
	case string:
		return time.ParseDuration(v)
	}
	if n, ok := signed(v); ok {
		return time.Duration(n) * time.Millisecond, nil
	}
	if n, ok := unsigned(v); ok {
		return time.Duration(n) * time.Millisecond, nil
	}
	return 0, errValueType
}

// coerceInt64 takes an integer or a base-10 string.
func coerceInt64(v any) (int64, error) {
	if s, ok := v.(string); ok {
		return strconv.ParseInt(s, 10, 64)
	}
	if n, ok := signed(v); ok {
		return n, nil
	}
	if n, ok := unsigned(v); ok {
		return int64(n), nil
	}
	return 0, errValueType
}

// coerceUint64 takes an integer (a negative one wraps around) or a base-10
// string.
func coerceUint64(v any) (uint64, error) {
	if s, ok := v.(string); ok {
		return strconv.ParseUint(s, 10, 64)
	}
	if n, ok := signed(v); ok {
		return uint64(n), nil
	}
	if n, ok := unsigned(v); ok {
		return n, nil
	}
	return 0, errValueType
}

// coerceFloat64 takes a float, an integer or a string for strconv.ParseFloat.
func coerceFloat64(v any) (float64, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	case string:
		return strconv.ParseFloat(v, 64)
	}
	if n, ok := signed(v); ok {
		return float64(n), nil
	}
	if n, ok := unsigned(v); ok {
		return float64(n), nil
	}
	return 0, errValueType
}

// coerceBool takes a bool, a string for strconv.ParseBool, or an integer
// (non-zero is true).
func coerceBool(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		return strconv.ParseBool(v)
	}
	if n, ok := signed(v); ok {
		return n != 0, nil
	}
	if n, ok := unsigned(v); ok {
		return n != 0, nil
	}
	return false, errValueType
}

// coerceString takes anything: a string as it is, an integer in decimal, a
// float with %f, anything else with %s.
func coerceString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if n, ok := signed(v); ok {
		return strconv.FormatInt(n, 10)
	}
	if n, ok := unsigned(v); ok {
		return strconv.FormatUint(n, 10)
	}
	switch v := v.(type) {
	case float32, float64:
		return fmt.Sprintf("%f", v)
	}
	return fmt.Sprintf("%s", v)
}

// coerceAddr takes a net.Addr or a "host:port" string, resolved as TCP.
func coerceAddr(v any) (net.Addr, error) {
	switch v := v.(type) {
	case string:
		return net.ResolveTCPAddr("tcp", v)
	case net.Addr:
		return v, nil
	}
	return nil, errValueType
}

// coerceBackoffStrategy takes a BackoffStrategy, "exponential" (or "") or
// "full_jitter".
func coerceBackoffStrategy(v any) (BackoffStrategy, error) {
	switch v := v.(type) {
	case string:
		switch v {
		case "", "exponential":
			return &ExponentialStrategy{}, nil
		case "full_jitter":
			return &FullJitterStrategy{}, nil
		}
	case BackoffStrategy:
		return v, nil
	}
	return nil, errValueType
}
