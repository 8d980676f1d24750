package writes

// Locks here (order: top of staging.go): Writer.mu, and the listings'
// and content store's own locks through their methods, never while
// Writer.mu is held; remote calls (MKCOL, DELETE, MOVE) run with none.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/odfb/odfb/cache/internal/kinds"
	"github.com/odfb/odfb/remote"
)

// Mkdir creates a folder on the server (one MKCOL) and records it, with
// an empty listing, so that files created in it cost no PROPFIND.
func (w *Writer) Mkdir(ctx context.Context, p string) (remote.Entry, error) {
	p = remote.Clean(p)
	if _, ok := w.PendingEntry(p); ok {
		return remote.Entry{}, &kinds.Error{Kind: kinds.ErrExists, Op: "mkdir", Path: p}
	}
	if _, err := w.h.Stat(ctx, p); err == nil {
		return remote.Entry{}, &kinds.Error{Kind: kinds.ErrExists, Op: "mkdir", Path: p}
	} else if !errors.Is(err, remote.ErrNotFound) {
		return remote.Entry{}, err
	}
	if err := w.remote.Mkdir(ctx, p); err != nil {
		if errors.Is(err, remote.ErrExists) {
			// Someone made it meanwhile (another client, or our own
			// attempt whose answer was lost): the listing that said it
			// was absent is wrong, so the next lookup must ask again.
			w.h.Invalidate(remote.Dir(p))
		}
		return remote.Entry{}, err
	}
	now := w.now()
	e := remote.Entry{Path: p, IsDir: true, ModTime: now, ServerModTime: now, Created: now}
	w.h.SetEntry(e)
	w.h.SetEmpty(e, now)
	return e, nil
}

// Hold stops uploads from starting for the pending files at p (and under
// it, for a folder) and waits for running ones to finish. The returned
// function releases them.
func (w *Writer) Hold(ctx context.Context, paths ...string) (func(), error) {
	match := func(k string) bool {
		for _, p := range paths {
			f := fold(p)
			if k == f || strings.HasPrefix(k, f+"/") || f == "/" {
				return true
			}
		}
		return false
	}
	w.mu.Lock()
	var held []*pending
	for k, pd := range w.byPath {
		if match(k) {
			pd.holds++
			held = append(held, pd)
		}
	}
	release := func() {
		w.mu.Lock()
		for _, pd := range held {
			pd.holds--
		}
		w.broadcastLocked()
		w.mu.Unlock()
		w.kick()
	}
	err := w.waitLocked(ctx, func() bool {
		for _, pd := range held {
			if pd.isUploading() {
				return false
			}
		}
		return true
	})
	w.mu.Unlock()
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// dropLocked forgets a pending file: its record, and its staging file
// once no handle has it open.
func (w *Writer) dropLocked(pd *pending) {
	committed := pd.isCommitted()
	w.moveLocked(pd, stateRemoved)
	if w.byPath[fold(pd.rec.Path)] == pd {
		delete(w.byPath, fold(pd.rec.Path))
	}
	var remove func()
	if pd.opens == 0 {
		staging := filepath.Join(w.dir, pd.rec.ID)
		remove = func() { os.Remove(staging) }
	}
	if committed {
		// The staging file goes once the record is gone: a record must
		// never name a missing file.
		w.jrn.del(pd.rec.ID, pd.rec.Path, remove)
	} else if remove != nil {
		remove()
	}
	w.broadcastLocked()
}

// Remove deletes the file at p: a file that exists only in staging costs
// no request; a pending upload of it is cancelled.
func (w *Writer) Remove(ctx context.Context, p string) error {
	p = remote.Clean(p)
	release, err := w.Hold(ctx, p)
	if err != nil {
		return err
	}
	defer release()
	w.mu.Lock()
	pd := w.byPath[fold(p)]
	w.mu.Unlock()
	onServer := pd == nil || !pd.rec.New
	srvPath := p
	if pd == nil {
		e, err := w.h.Stat(ctx, p)
		if err != nil {
			return err
		}
		if e.IsDir {
			return &kinds.Error{Kind: kinds.ErrIsDir, Op: "unlink", Path: p}
		}
		srvPath = e.Path
	} else {
		srvPath = pd.rec.Path
	}
	if pd != nil {
		if err := w.abandonSession(ctx, pd); err != nil {
			return err
		}
	}
	if onServer {
		if err := w.remote.Delete(ctx, srvPath); err != nil && !errors.Is(err, remote.ErrNotFound) {
			return err
		}
	}
	if pd != nil {
		w.mu.Lock()
		w.dropLocked(pd)
		w.mu.Unlock()
	}
	w.setRecent(srvPath, nil)
	w.h.RemoveEntry(srvPath)
	w.h.DropContent(srvPath)
	return nil
}

// Rmdir deletes an empty folder.
func (w *Writer) Rmdir(ctx context.Context, p string) error {
	p = remote.Clean(p)
	e, err := w.h.Stat(ctx, p)
	if err != nil {
		return err
	}
	if !e.IsDir {
		return &kinds.Error{Kind: kinds.ErrNotDir, Op: "rmdir", Path: p}
	}
	kids, err := w.h.ReadDir(ctx, p)
	if err != nil {
		return err
	}
	if len(kids) > 0 || len(w.PendingIn(p)) > 0 {
		return &kinds.Error{Kind: kinds.ErrNotEmpty, Op: "rmdir", Path: p}
	}
	if err := w.remote.Delete(ctx, e.Path); err != nil && !errors.Is(err, remote.ErrNotFound) {
		return err
	}
	w.forgetRecentTree(e.Path)
	w.h.RemoveEntry(e.Path)
	w.h.ForgetTree(e.Path)
	return nil
}

// statAny returns the entry of p, pending or listed.
func (w *Writer) statAny(ctx context.Context, p string) (remote.Entry, bool, error) {
	if e, ok := w.PendingEntry(p); ok {
		return e, true, nil
	}
	e, err := w.h.Stat(ctx, p)
	return e, false, err
}

// Rename moves src to dst, replacing dst unless noReplace. A file whose
// upload is pending and that the server does not have yet is renamed in
// the journal only (it is uploaded once, under its final name); anything
// the server has is moved there (one MOVE), and the journal follows.
func (w *Writer) Rename(ctx context.Context, src, dst string, noReplace bool) error {
	src, dst = remote.Clean(src), remote.Clean(dst)
	if src == dst {
		return nil
	}
	se, de, dstExists, err := w.checkRename(ctx, src, dst, noReplace)
	if err != nil {
		return err
	}
	release, err := w.Hold(ctx, src, dst)
	if err != nil {
		return err
	}
	defer release()

	w.mu.Lock()
	spd, dpd := w.byPath[fold(src)], w.byPath[fold(dst)]
	if fold(src) == fold(dst) {
		dpd = nil
	}
	w.mu.Unlock()
	if err := w.abandonSessionsUnder(ctx, src, se.IsDir); err != nil {
		return err
	}
	srcOnServer := se.IsDir || spd == nil || !spd.rec.New
	dstOnServer := dstExists && (dpd == nil || !dpd.rec.New)
	if srcOnServer {
		// A case-only rename (a.txt → A.txt) names the same item on the
		// case-insensitive server: Overwrite: T would ask it to delete the
		// destination — the file itself — first. SharePoint (and spemu)
		// rename the item in place with Overwrite: F.
		if err := w.remote.Move(ctx, se.Path, dst, dstExists); err != nil {
			return err
		}
	}
	w.renameJournal(src, dst, se, de, spd, dpd, srcOnServer, dstOnServer)
	w.renameListings(dst, se, spd, srcOnServer)
	return nil
}

// checkRename refuses a rename that cannot be (into itself, onto an
// existing name with noReplace, a folder onto a file or a full folder,
// a file onto a folder) and returns the entries of src and dst (dst's
// when dstExists).
func (w *Writer) checkRename(ctx context.Context, src, dst string, noReplace bool) (se, de remote.Entry, dstExists bool, err error) {
	if fold(dst) != fold(src) && strings.HasPrefix(fold(dst), fold(src)+"/") {
		return se, de, false, &kinds.Error{Kind: kinds.ErrInvalid, Op: "rename", Path: dst, Detail: "a folder into itself"}
	}
	se, _, err = w.statAny(ctx, src)
	if err != nil {
		return se, de, false, err
	}
	de, _, derr := w.statAny(ctx, dst)
	dstExists = derr == nil && fold(dst) != fold(src)
	if derr != nil && !errors.Is(derr, remote.ErrNotFound) {
		return se, de, false, derr
	}
	if !dstExists {
		return se, de, false, nil
	}
	if noReplace {
		return se, de, true, &kinds.Error{Kind: kinds.ErrExists, Op: "rename", Path: dst}
	}
	switch {
	case se.IsDir && !de.IsDir:
		return se, de, true, &kinds.Error{Kind: kinds.ErrNotDir, Op: "rename", Path: dst}
	case !se.IsDir && de.IsDir:
		return se, de, true, &kinds.Error{Kind: kinds.ErrIsDir, Op: "rename", Path: dst}
	case de.IsDir:
		kids, err := w.h.ReadDir(ctx, dst)
		if err != nil {
			return se, de, true, err
		}
		if len(kids) > 0 || len(w.PendingIn(dst)) > 0 {
			return se, de, true, &kinds.Error{Kind: kinds.ErrNotEmpty, Op: "rename", Path: dst}
		}
	}
	return se, de, true, nil
}

// abandonSessionsUnder cancels the REST sessions of the pending files at
// src (and under it, for a folder): a session belongs to the old name
// (and leaves an empty file for a new one); the upload starts over under
// the new name.
func (w *Writer) abandonSessionsUnder(ctx context.Context, src string, isDir bool) error {
	w.mu.Lock()
	var sessions []*pending
	for k, pd := range w.byPath {
		if (k == fold(src) || (isDir && strings.HasPrefix(k, fold(src)+"/"))) &&
			(pd.rec.UploadID != "" || pd.rec.Abandoned != "" || pd.rec.Placeholder) {
			sessions = append(sessions, pd)
		}
	}
	w.mu.Unlock()
	for _, pd := range sessions {
		if err := w.abandonSession(ctx, pd); err != nil {
			return err
		}
	}
	return nil
}

// renameJournal moves the pending files at (or under) src to dst, drops
// the one at dst (dpd), and commits the moved records. spd is the one at
// src, se and de the entries of src and dst.
func (w *Writer) renameJournal(src, dst string, se, de remote.Entry, spd, dpd *pending, srcOnServer, dstOnServer bool) {
	w.mu.Lock()
	var moved []*pending
	prefix := fold(src)
	for k, pd := range w.byPath {
		if k == prefix || (se.IsDir && strings.HasPrefix(k, prefix+"/")) {
			moved = append(moved, pd)
		}
	}
	if dpd != nil {
		w.dropLocked(dpd)
	}
	var res []<-chan error
	for _, pd := range moved {
		delete(w.byPath, fold(pd.rec.Path))
		pd.rec.Path = dst + pd.rec.Path[len(src):]
		pd.rec.UploadID, pd.rec.Offset = "", 0 // a REST session belongs to the old name
		if pd == spd && !se.IsDir {
			pd.rec.Path = dst
			switch {
			case srcOnServer:
				// Moved on the server: overwrite what is there now.
				pd.rec.New, pd.rec.BaseETag = false, ""
			case dstOnServer:
				pd.rec.New = false
				pd.rec.BaseETag = de.ETag
				if dpd != nil {
					pd.rec.BaseETag = dpd.rec.BaseETag
				}
			}
		}
		w.byPath[fold(pd.rec.Path)] = pd
		if pd.isCommitted() {
			res = append(res, w.jrn.put(pd.rec))
		}
	}
	w.broadcastLocked()
	w.mu.Unlock()
	for _, r := range res {
		if err := w.jrn.wait(r); err != nil {
			w.log.Error("cannot update the upload journal after a rename; the uploads may go to the old name after a crash", "from", src, "to", dst, "err", err)
			break
		}
	}
}

// renameListings shows a rename from se (the entry of the source) to dst
// in the listings and drops cached content under both names.
func (w *Writer) renameListings(dst string, se remote.Entry, spd *pending, srcOnServer bool) {
	srvSrc := se.Path
	w.forgetRecentTree(srvSrc)
	w.setRecent(dst, nil)
	if !srcOnServer {
		return
	}
	w.h.RemoveEntry(srvSrc)
	w.h.DropContent(srvSrc)
	if se.IsDir {
		w.h.ForgetTree(srvSrc)
		w.h.ForgetTree(dst)
	}
	ne := se
	ne.Path = dst
	if spd != nil && !se.IsDir {
		ne = spd.entry()
		ne.ETag = ""
	}
	w.h.SetEntry(ne)
	w.h.DropContent(dst)
}

// abandonSession gives up pd's REST upload session, if it has one: the
// session is cancelled and, for a new file, the empty file StartUpload
// made is removed. What the server does not confirm stays in the record
// (Abandoned, Placeholder) and is done again by cleanupSession before the
// next attempt, rename or removal of the file: a session left open keeps
// the file locked for half an hour, and a placeholder left behind shows
// an empty file where none should be (both found by internal/matrix).
func (w *Writer) abandonSession(ctx context.Context, pd *pending) error {
	w.mu.Lock()
	if id := pd.rec.UploadID; id != "" {
		pd.rec.Abandoned = id
		pd.rec.Placeholder = pd.rec.Placeholder || pd.rec.New
	}
	pd.rec.UploadID, pd.rec.Offset = "", 0
	w.mu.Unlock()
	return w.cleanupSession(ctx, pd)
}

// cleanupSession finishes what abandonSession began: it cancels the
// abandoned session and removes the placeholder, forgetting each once
// the server has confirmed it. It returns the first failure and leaves
// the rest for the next call.
func (w *Writer) cleanupSession(ctx context.Context, pd *pending) error {
	w.mu.Lock()
	rec := pd.rec
	w.mu.Unlock()
	if rec.Abandoned != "" {
		if err := w.cancelAbandoned(ctx, rec); err != nil {
			return err
		}
		w.mu.Lock()
		if pd.rec.Abandoned == rec.Abandoned {
			pd.rec.Abandoned = ""
		}
		w.mu.Unlock()
	}
	if rec.Placeholder {
		if err := w.removePlaceholder(ctx, rec.Path); err != nil {
			return err
		}
		w.mu.Lock()
		pd.rec.Placeholder = false
		w.mu.Unlock()
	}
	return nil
}

// cancelAbandoned cancels rec's abandoned session; a session the server
// no longer knows counts as cancelled.
func (w *Writer) cancelAbandoned(ctx context.Context, rec JournalRecord) error {
	cu, ok := w.remote.(remote.ChunkedUploader)
	if !ok {
		return nil
	}
	if err := w.cancelGiven(ctx, cu, rec.Path, rec.Abandoned); err != nil {
		w.log.Warn("cannot cancel an abandoned upload session yet; the file stays locked on the server until it is", "path", rec.Path, "err", err)
		return err
	}
	return nil
}

// removePlaceholder deletes the empty file StartUpload created at p; a
// file someone else put there meanwhile (not empty: the session then went
// to a conflict name) is not ours to delete.
func (w *Writer) removePlaceholder(ctx context.Context, p string) error {
	e, err := w.remote.Stat(ctx, p)
	switch {
	case errors.Is(err, remote.ErrNotFound):
		return nil
	case err != nil:
		return err
	case e.IsDir || e.Size != 0:
		return nil
	}
	if err := w.remote.Delete(ctx, p); err != nil && !errors.Is(err, remote.ErrNotFound) {
		w.log.Warn("cannot remove the empty file an abandoned upload left yet", "path", p, "err", err)
		return err
	}
	return nil
}
