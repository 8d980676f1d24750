package cache

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LostItem is a file the server refused for good; its staged content was
// moved to File under <cache-dir>/lost+found/, with File+".reason".
type LostItem struct {
	Path   string    `json:"path"`
	File   string    `json:"file"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// LostError is what a --sync-upload close() or fsync() returns for a
// file the server refused for good, and, with or without --sync-upload,
// every close() or fsync() of a handle that was open when it was
// refused: its content is kept in lost+found.
// It wraps the server's refusal (a *remote.Error), so errors.Is with the
// remote error kinds gives the errno (ErrTooLarge: EFBIG, ErrInvalidName:
// EINVAL, ErrForbidden: EACCES, …).
type LostError struct {
	Path string // the server path refused
	File string // where its content is kept
	Err  error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("%s was refused by the server and kept in %s: %v", e.Path, e.File, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// localLostName maps a server path to a relative local path: every
// segment kept, with characters a local filesystem may dislike replaced.
func localLostName(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return '_'
			}
			return r
		}, s)
		if s == "" || s == "." || s == ".." {
			s = "_"
		}
		segs[i] = s
	}
	return filepath.Join(segs...)
}

// toLostFoundLocked moves pd's staging file to lost+found and forgets its
// upload. Called with w.mu held.
func (w *writer) toLostFoundLocked(pd *pending, cause error) {
	rel := localLostName(pd.rec.Path)
	dst := filepath.Join(w.lostDir, rel)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); os.IsNotExist(err) {
			break
		}
		dst = filepath.Join(w.lostDir, fmt.Sprintf("%s.%d", rel, i))
	}
	src := filepath.Join(w.dir, pd.rec.ID)
	err := os.MkdirAll(filepath.Dir(dst), 0o700)
	if err == nil {
		if pd.opens > 0 {
			err = copyFile(src, dst) // still open: keep staging for the handle
		} else {
			err = os.Rename(src, dst)
		}
	}
	if err != nil {
		w.log.Error("cannot move a refused upload to lost+found; it stays queued", "path", pd.rec.Path, "err", err)
		pd.rec.Attempts++
		pd.rec.LastError = cause.Error()
		pd.rec.NextTry = w.c.now().Add(w.opts.RetryMax)
		return
	}
	reason := fmt.Sprintf("path: %s\ntime: %s\nreason: %v\n", pd.rec.Path, w.c.now().Format(time.RFC3339), cause)
	if err := writeSynced(dst+".reason", []byte(reason)); err != nil {
		w.log.Warn("cannot write the reason file beside a lost+found file", "file", dst, "err", err)
	}
	// The entries (and any folders MkdirAll made) must survive a power
	// cut before the journal forgets the upload.
	for d := filepath.Dir(dst); ; d = filepath.Dir(d) {
		if err := syncDir(d); err != nil {
			w.log.Warn("cannot fsync a lost+found folder", "dir", d, "err", err)
		}
		if d == w.lostDir || len(d) <= len(w.lostDir) {
			break
		}
	}
	if pd.opens == 0 {
		syncDir(w.dir) // the staging entry is gone (renamed away)
	}
	w.lost = append(w.lost, LostItem{Path: pd.rec.Path, File: dst, Reason: cause.Error(), At: w.c.now()})
	w.log.Error("moved to lost+found", "path", pd.rec.Path, "file", dst, "reason", cause)
	if pd.committed {
		deleteRecords(w.c.db, pd.rec.ID)
		pd.committed = false
	}
	pd.gone = true
	pd.lostErr = &LostError{Path: pd.rec.Path, File: dst, Err: cause}
	pd.lostGen = pd.gen // what the copy (or the renamed file) holds
	if pd.opens > 0 {
		w.lostOpen[pd] = true
	}
	if w.byPath[fold(pd.rec.Path)] == pd {
		delete(w.byPath, fold(pd.rec.Path))
	}
}

// keepLost is what a flush or close of a file that is gone returns: nil
// when it was unlinked; when the server refused it for good (while it
// was open), the refusal — after what was written since the refusal has
// been copied over its lost+found copy, so that nothing written is lost.
// Called with p.commitMu held.
func (w *writer) keepLost(p *pending) error {
	w.mu.Lock()
	le, _ := p.lostErr.(*LostError)
	gen, copied := p.gen, p.lostGen
	w.mu.Unlock()
	if le == nil {
		return nil
	}
	if gen == copied {
		return le
	}
	// A fresh copy beside the staging file (same disk; a leftover is
	// removed at the next start), then renamed over the old one.
	src := filepath.Join(w.dir, p.rec.ID)
	tmp := src + ".lost"
	os.Remove(tmp)
	err := copyFile(src, tmp)
	if err == nil {
		err = os.Rename(tmp, le.File)
	}
	if err == nil {
		err = syncDir(filepath.Dir(le.File))
	}
	if err != nil {
		os.Remove(tmp)
		w.log.Error("the server refused this file and it was written to afterwards; the new data cannot be copied to lost+found",
			"path", le.Path, "file", le.File, "err", err)
		return fmt.Errorf("%s was refused by the server and written to afterwards; copying it to %s: %w", le.Path, le.File, err)
	}
	w.mu.Lock()
	if p.lostGen < gen {
		p.lostGen = gen
	}
	w.mu.Unlock()
	w.log.Error("the server refused this file and it was written to afterwards; lost+found holds the new content",
		"path", le.Path, "file", le.File, "reason", le.Err)
	return le
}

// writeSynced writes a new file (mode 0600) and fsyncs it.
func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// LostFound lists what lost+found holds (from this run and earlier ones).
func (c *Cache) LostFound() []LostItem {
	w := c.wr()
	if w == nil {
		return nil
	}
	var out []LostItem
	filepath.WalkDir(w.lostDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".reason") {
			return nil
		}
		it := LostItem{File: p}
		if data, err := os.ReadFile(p + ".reason"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "path: "); ok {
					it.Path = v
				}
				if v, ok := strings.CutPrefix(line, "reason: "); ok {
					it.Reason = v
				}
			}
		}
		if info, err := d.Info(); err == nil {
			it.At = info.ModTime()
		}
		out = append(out, it)
		return nil
	})
	return out
}
