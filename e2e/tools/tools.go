//go:build tools

// Package tools pins the nsqd binary the end-to-end tests run against.
package tools

import _ "github.com/nsqio/nsq/apps/nsqd"
