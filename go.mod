module github.com/nsqpub/nsqpub

go 1.26
