package writes

// Locks here (order: top of staging.go): Writer.mu, which
// toLostFoundLocked is called with and lets go of around the disk work
// (keepInLostFound takes no lock); pending.commitMu → Writer.mu in
// keepLost, which copies with neither held.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/odfb/odfb/internal/diskio"
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
// remote error kinds gives the errno (kinds.ErrTooLarge: EFBIG, ErrInvalidName:
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

// maxLostTries bounds the search for a free name in lost+found: after
// that many files of one name the move fails (logged, the upload stays
// queued and is tried again later) instead of looping.
const maxLostTries = 1000

// reasonExt is the suffix of the file beside each lost+found file that
// says why it is there; names are shortened so that it fits too.
const reasonExt = ".reason"

// localLostName maps a server path to a relative local path that the
// cache's file system can hold: every segment kept, characters a local
// file system may dislike replaced, and any segment longer than nameMax
// bytes shortened (the extension kept). The server names of a file named
// with 255 bytes on Linux can be 765 bytes long (every mapped character
// takes 3), and a name the server refused may be too long for any disk.
func localLostName(p string, nameMax int) string {
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
		limit := nameMax
		if i == len(segs)-1 {
			limit -= len(reasonExt) + len(" (1000)") // room for the counter and .reason
		}
		segs[i] = shortenName(s, limit)
	}
	return filepath.Join(segs...)
}

// shortenName cuts name to at most limit bytes at a character boundary,
// keeping a short extension (".pdf", ".tar.gz" keeps ".gz").
func shortenName(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	ext := filepath.Ext(name)
	if len(ext) > 16 || len(ext) == len(name) {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	keep := limit - len(ext)
	for keep > 0 && !utf8.RuneStart(stem[keep]) {
		keep--
	}
	return stem[:keep] + ext
}

// withCounter is name with " (n)" before its extension.
func withCounter(name string, n int) string {
	ext := filepath.Ext(name)
	if len(ext) == len(name) {
		ext = ""
	}
	return fmt.Sprintf("%s (%d)%s", name[:len(name)-len(ext)], n, ext)
}

// freeLostName picks where in lostDir the file of server path p goes:
// localLostName, or with a counter when that is taken. It fails, rather
// than looping, on any answer of the disk other than "no such file", and
// after maxLostTries names.
func freeLostName(lostDir, p string) (string, error) {
	rel := localLostName(p, nameMax(lostDir))
	for i := 0; i < maxLostTries; i++ {
		cand := rel
		if i > 0 {
			cand = withCounter(rel, i)
		}
		dst := filepath.Join(lostDir, cand)
		_, err := os.Lstat(dst)
		if errors.Is(err, fs.ErrNotExist) {
			return dst, nil
		}
		if err != nil {
			return "", fmt.Errorf("lost+found name %s: %w", dst, err)
		}
	}
	return "", fmt.Errorf("lost+found already holds %d files named %s", maxLostTries, rel)
}

// nameMax is the longest name the file system of dir takes, in bytes
// (255 where it cannot be asked).
func nameMax(dir string) int {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil && st.Namelen > 16 && st.Namelen < 255 {
		return int(st.Namelen)
	}
	return 255
}

// toLostFoundLocked moves pd's staging file to lost+found and forgets its
// upload. Called with w.mu held, by the upload attempt that was refused
// (pd.isUploading() is still set, so no other upload, rename or removal of
// pd starts meanwhile); it lets go of w.mu while it works on the disk, so
// that lookups, reads and other files' uploads go on during the copy of
// a large file.
func (w *Writer) toLostFoundLocked(pd *pending, cause error) {
	path, src, gen := pd.rec.Path, filepath.Join(w.dir, pd.rec.ID), pd.gen
	w.mu.Unlock()
	dst, linked, err := w.keepInLostFound(path, src, cause)
	w.mu.Lock()
	if err != nil {
		w.log.Error("cannot keep a refused upload in lost+found; it stays queued and is tried again later",
			"path", path, "reason", cause, "err", err)
		pd.rec.Attempts++
		pd.rec.LastError = fmt.Sprintf("%v (keeping it in lost+found failed: %v)", cause, err)
		pd.rec.NextTry = w.now().Add(w.opts.RetryMax)
		w.jrn.put(pd.rec)
		return
	}
	// lostGen: what lost+found holds. A hard link is the staging file
	// itself, so it holds every write made meanwhile; a copy holds gen.
	pd.lostGen = gen
	if linked {
		pd.lostGen = pd.gen
	}
	if pd.opens == 0 {
		if linked {
			os.Remove(src)
		} else if pd.gen != gen {
			// Written and closed during the copy: the staging file is
			// newer than the copy and nobody needs it any more.
			if err := os.Rename(src, dst); err == nil {
				pd.lostGen = pd.gen
			}
		} else {
			os.Remove(src)
		}
	}
	w.lost = append(w.lost, LostItem{Path: path, File: dst, Reason: cause.Error(), At: w.now()})
	w.log.Error("moved to lost+found", "path", path, "file", dst, "reason", cause)
	if pd.isCommitted() {
		w.jrn.del(pd.rec.ID, path, nil)
	}
	w.moveLocked(pd, stateLost)
	pd.lostErr = &LostError{Path: path, File: dst, Err: cause}
	if pd.opens > 0 {
		w.lostOpen[pd] = true
	}
	if w.byPath[fold(path)] == pd {
		delete(w.byPath, fold(path))
	}
}

// keepInLostFound puts the staging file src of server path p into
// lost+found under a free name, with a reason file beside it, and makes
// both durable. It hard-links when it can (no data copied) and copies
// otherwise; linked says which. It takes no lock.
func (w *Writer) keepInLostFound(p, src string, cause error) (dst string, linked bool, err error) {
	// Two refusals at once may pick the same free name: the link or the
	// exclusive create of the second fails with EEXIST, and it picks again.
	for try := 0; ; try++ {
		dst, err = freeLostName(w.lostDir, p)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(dst), 0o700)
		}
		if err == nil {
			if err = linkFile(src, dst); err == nil {
				linked = true
			} else if !errors.Is(err, fs.ErrExist) {
				err = copyFile(src, dst)
			}
		}
		if err == nil || !errors.Is(err, fs.ErrExist) || try >= 3 {
			break
		}
	}
	if err != nil {
		return "", false, err
	}
	reason := fmt.Sprintf("path: %s\ntime: %s\nreason: %v\n", p, w.now().Format(time.RFC3339), cause)
	if err := writeSynced(dst+reasonExt, []byte(reason)); err != nil {
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
	return dst, linked, nil
}

// keepLost is what a flush or close of a file that is gone returns: nil
// when it was unlinked; when the server refused it for good (while it
// was open), the refusal — after what was written since the refusal has
// been copied over its lost+found copy, so that nothing written is lost.
// Called with p.commitMu held.
func (w *Writer) keepLost(p *pending) error {
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

// linkFile and openCopySource are os.Link and os.Open; tests replace
// them to force the copy fallback and to hold a copy while it runs.
var (
	linkFile       = os.Link
	openCopySource = func(name string) (io.ReadCloser, error) { return os.Open(name) }
)

// copyFile copies src to a new file dst, fsynced.
func copyFile(src, dst string) error {
	in, err := openCopySource(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return diskio.CopyFile(in, dst, true)
}

// LostFound lists what lost+found holds (from this run and earlier ones).
func (w *Writer) LostFound() []LostItem {
	var out []LostItem
	filepath.WalkDir(w.lostDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, reasonExt) {
			return nil
		}
		it := LostItem{File: p}
		if data, err := os.ReadFile(p + reasonExt); err == nil {
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
