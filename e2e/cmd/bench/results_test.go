package main

import (
	"strings"
	"testing"
)

func TestSplice(t *testing.T) {
	doc := "# Benchmarks\n\nprose about `" + docBegin + "` and `" + docEnd + "`\n\n" + docBegin + "\nold results\n" + docEnd + "\n\nmore prose\n"
	body := demote("# nsqpub vs go-nsq\n\n## Goals\n\n| a | b |\n\n![chart](docs/bench/x.svg)\n")
	got, err := splice([]byte(doc), body)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nprose about `" + docBegin + "` and `" + docEnd + "`\n\n" + docBegin + "\n\n## nsqpub vs go-nsq\n\n### Goals\n\n| a | b |\n\n![chart](docs/bench/x.svg)\n\n" + docEnd + "\n\nmore prose\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := splice([]byte(strings.ReplaceAll(doc, docEnd, "")), body); err == nil {
		t.Error("no error without the end marker")
	}
}
