package nsqdproc

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	cases := []struct {
		name    string
		writers int
		each    int
	}{
		{"empty", 0, 0},
		{"one writer", 1, 100},
		{"many writers", 8, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b Buffer
			var wg sync.WaitGroup
			for range c.writers {
				wg.Go(func() {
					for range c.each {
						b.Write([]byte("line\n"))
						_ = b.String()
					}
				})
			}
			wg.Wait()
			if got, want := b.String(), strings.Repeat("line\n", c.writers*c.each); got != want {
				t.Errorf("%d bytes, want %d", len(got), len(want))
			}
		})
	}
}
