// Package nsqpub is a standard-library-only NSQ producer.
package nsqpub
