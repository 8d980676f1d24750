package writes

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/odfb/odfb/remote"
)

// ConflictItem is a file that changed on the server while it was edited
// here: both versions are kept, ours under Copy.
type ConflictItem struct {
	Path string    `json:"path"`
	Copy string    `json:"copy"`
	At   time.Time `json:"at"`
}

// conflictName returns "name (conflict YYYY-MM-DD HOST).ext" in the same
// folder; n > 1 adds " n" before the closing parenthesis.
func conflictName(p string, t time.Time, host string, n int) string {
	dir, base := remote.Dir(p), remote.Base(p)
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if stem == "" { // ".bashrc": the whole name is the stem
		stem, ext = base, ""
	}
	tag := fmt.Sprintf("conflict %s %s", t.Format("2006-01-02"), host)
	if n > 1 {
		tag += fmt.Sprintf(" %d", n)
	}
	return remote.Join(dir, fmt.Sprintf("%s (%s)%s", stem, tag, ext))
}

// freeConflictName finds a conflict name the server does not hold.
func (w *Writer) freeConflictName(ctx context.Context, p string) string {
	for i := 1; i < 50; i++ {
		name := conflictName(p, w.now(), w.opts.Hostname, i)
		if _, err := w.remote.Stat(ctx, name); errors.Is(err, remote.ErrNotFound) {
			return name
		}
	}
	return conflictName(p, w.now(), w.opts.Hostname, 50)
}

// conflictLogged records and logs a conflict copy.
func (w *Writer) conflictLogged(p, copyName string) {
	w.log.Warn("file changed on the server while edited here; both versions are kept", "path", p, "ours", copyName)
	w.mu.Lock()
	w.conflicts = append(w.conflicts, ConflictItem{Path: p, Copy: copyName, At: w.now()})
	w.mu.Unlock()
	w.h.Invalidate(remote.Dir(p))
}
