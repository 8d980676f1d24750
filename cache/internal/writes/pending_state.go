package writes

import "fmt"

// pstate is where a pending file is in its life. The counters beside it
// in pending (opens, holds, mutating, forced) say who is using the file
// and keep uploads from starting; the state says what is true of its
// journal record and its upload. It changes only through moveLocked,
// with Writer.mu held.
//
//	from        to          when (by)
//	local       queued      a flush or close journals it (commit)
//	local       removed     unlinked, or replaced by a rename (dropLocked)
//	queued      uploading   an attempt starts (schedule)
//	queued      removed     unlinked, or replaced by a rename (dropLocked)
//	uploading   queued      failed, cancelled by a change, or more to send
//	uploading   local       up, record deleted, still open (upload)
//	uploading   uploaded    up, record deleted, not open (upload)
//	uploading   lost        refused for good, kept in lost+found
//
// A new pending file starts local; one loaded from the journal at start
// starts queued. uploaded, removed and lost are final.
//
// What a crash (kill -9, power cut) interrupts, and what the next start
// makes of it — the journal record is the only thing that survives:
//   - local → queued: the staging file is fsynced before the record is
//     committed; a crash before the commit leaves no record, and the
//     close or fsync that was making it had not returned.
//   - queued → uploading → uploaded / local: the server may hold the file
//     while the record is still there; the next start uploads it again
//     (If-Match on the old ETag; a 412 finds the server's copy equal to
//     ours, serverHasOurs, and it is done). A REST session's id and
//     confirmed offset are in the record: the upload resumes.
//   - uploading → lost: lost+found holds the file (fsynced, link or copy)
//     before the record is deleted; a crash between leaves both, and the
//     next start is refused again and keeps a second copy.
//   - queued / local → removed: the server-side delete or move is done
//     before the record is deleted; a crash between leaves the record,
//     which the next start treats as any queued upload.
type pstate int

const (
	// stateLocal: changes only here (open for writing, or still open
	// after its upload ended); no journal record.
	stateLocal pstate = iota
	// stateQueued: a journal record exists; the upload waits for
	// write-back, a backoff, a hold or a free transfer slot.
	stateQueued
	// stateUploading: an attempt runs (pending.up); the record exists.
	stateUploading
	// stateUploaded: the last version is on the server and the file is
	// forgotten (its staging file became cached content or was deleted).
	stateUploaded
	// stateRemoved: unlinked, or replaced by a rename: forgotten; its
	// staging file goes at its last close.
	stateRemoved
	// stateLost: refused for good; the content is in lost+found and
	// pending.lostErr says so to every later flush and close.
	stateLost
)

func (s pstate) String() string {
	switch s {
	case stateLocal:
		return "local"
	case stateQueued:
		return "queued"
	case stateUploading:
		return "uploading"
	case stateUploaded:
		return "uploaded"
	case stateRemoved:
		return "removed"
	case stateLost:
		return "lost"
	}
	return fmt.Sprintf("pstate(%d)", int(s))
}

// moves lists every allowed transition; moving to the same state is
// always allowed (a commit of a newer version while queued).
var moves = map[pstate][]pstate{
	stateLocal:     {stateQueued, stateRemoved},
	stateQueued:    {stateUploading, stateRemoved},
	stateUploading: {stateQueued, stateLocal, stateUploaded, stateLost},
}

// canMove reports whether from → to is a transition of the machine.
func canMove(from, to pstate) bool {
	if from == to {
		return true
	}
	for _, s := range moves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// moveLocked moves p to state to, with w.mu held. A move the machine
// does not have is a bug: it is logged (with both states and the path)
// and made anyway, as the code before this machine would have; it
// reports whether the move was allowed.
func (w *Writer) moveLocked(p *pending, to pstate) bool {
	ok := canMove(p.state, to)
	if !ok {
		w.log.Error("internal error: pending file moved between states the machine does not have",
			"path", p.rec.Path, "from", p.state.String(), "to", to.String())
	}
	p.state = to
	return ok
}

// journaledLocked records that p's journal record was written: local
// becomes queued; queued and uploading stay (a newer version journaled).
func (w *Writer) journaledLocked(p *pending) {
	if p.state == stateLocal {
		w.moveLocked(p, stateQueued)
	}
}

// attemptEndedLocked ends an upload attempt: unless it moved p on
// (uploaded, local, lost), the record stays and p is queued again.
func (w *Writer) attemptEndedLocked(p *pending) {
	if p.state == stateUploading {
		w.moveLocked(p, stateQueued)
	}
}

// isCommitted: a journal record exists.
func (p *pending) isCommitted() bool { return p.state == stateQueued || p.state == stateUploading }

// isUploading: an attempt runs.
func (p *pending) isUploading() bool { return p.state == stateUploading }

// isGone: unlinked or refused for good: lookups no longer show it, and
// its handles' flushes and closes say so (lostErr). An uploaded file is
// not gone: it is on the server.
func (p *pending) isGone() bool { return p.state == stateRemoved || p.state == stateLost }
