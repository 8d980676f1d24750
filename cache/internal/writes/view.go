package writes

import "github.com/odfb/odfb/remote"

// What the write side adds to what listings show: the pending files
// (staged size and mtime) and the files this run uploaded recently. The
// facade lays them over listings in one place (cache/overlay.go).

// PendingEntry returns the entry of a pending file at p.
func (w *Writer) PendingEntry(p string) (remote.Entry, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pd := w.byPath[fold(p)]; pd != nil && !pd.isGone() {
		return pd.entry(), true
	}
	return remote.Entry{}, false
}

// PendingIn returns the pending files directly in dir.
func (w *Writer) PendingIn(dir string) []remote.Entry {
	key := fold(dir)
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []remote.Entry
	seen := map[string]bool{}
	for k, pd := range w.byPath {
		if !pd.isGone() && fold(remote.Dir(k)) == key {
			out = append(out, pd.entry())
			seen[k] = true
		}
	}
	for k, r := range w.recent {
		if !seen[k] && fold(remote.Dir(k)) == key && w.now().Sub(r.at) <= w.ttl {
			e := r.e
			e.Hidden = true // marker: only added when the listing lacks it
			out = append(out, e)
		}
	}
	return out
}

// RecentEntry returns a file this run uploaded to p less than
// TTL ago.
func (w *Writer) RecentEntry(p string) (remote.Entry, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.recent[fold(p)]
	if !ok || w.now().Sub(r.at) > w.ttl {
		return remote.Entry{}, false
	}
	return r.e, true
}

// PendingInfo is the state of one pending file, for diagnostics and for
// tests that must wait for a given moment of an upload.
type PendingInfo struct {
	State     string // local, queued, uploading, uploaded, removed or lost
	Forced    int    // waiters (Sync, --sync-upload) wanting it uploaded now
	Mutating  int    // changes of the staging file in progress
	Uploading bool
}

// Inspect returns the state of the pending file at p.
func (w *Writer) Inspect(p string) (PendingInfo, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pd := w.byPath[fold(p)]
	if pd == nil {
		return PendingInfo{}, false
	}
	return PendingInfo{State: pd.state.String(), Forced: pd.forced, Mutating: pd.mutating, Uploading: pd.isUploading()}, true
}
