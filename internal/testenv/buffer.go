package testenv

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// Buffer collects output written from many goroutines (a logger, a
// server's request log) for a test to read back with String. With T set,
// every write is also passed to T.Log, so the output shows with -v and
// when the test fails.
type Buffer struct {
	T testing.TB

	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.T != nil {
		b.T.Log(strings.TrimRight(string(p), "\n"))
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
