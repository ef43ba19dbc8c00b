package nsqpub

import "strings"

// ConfigFlag is a flag.Value that sets options of Config by name, as
// go-nsq's does: each occurrence of the flag is "option,value", or
// "option" alone for true, applied with Config.Set. Config must not be nil.
// It is not safe for concurrent use.
type ConfigFlag struct {
	Config *Config
}

// Set applies opt, "option,value" or "option", with Config.Set. Only the
// first comma separates the option from the value, which may contain more.
// It returns Config.Set's error, which wraps ErrInvalidConfig.
func (c *ConfigFlag) Set(opt string) error {
	name, value, hasValue := strings.Cut(opt, ",")
	if !hasValue {
		return c.Config.Set(name, true)
	}
	return c.Config.Set(name, value)
}

// String returns "", as go-nsq's does: the options set are not listed.
func (c *ConfigFlag) String() string { return "" }
