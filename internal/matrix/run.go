package matrix

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Step is one operation as it ran.
type Step struct {
	Op   Op
	Got  syscall.Errno // what the mount answered (0: success)
	Want syscall.Errno // what the model allowed
	Note string        // how an ambiguous answer was resolved
}

func (s Step) String() string {
	out := fmt.Sprintf("%-50s got %s", s.Op, errName(s.Got))
	if s.Got != s.Want {
		out += ", model " + errName(s.Want)
	}
	if s.Note != "" {
		out += " (" + s.Note + ")"
	}
	return out
}

func errName(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	return e.Error()
}

// NoteAway is the note of a step answered EIO while the server was away.
const NoteAway = "EIO while the server was away"

// Resolver says whether an operation that failed with EIO was carried
// out on the server all the same (an answer lost after the change).
type Resolver func(op Op) (applied bool, err error)

// Thread runs operations in one folder of the mount and checks each
// against its model.
type Thread struct {
	Name    string // the folder's name in the library ("t0")
	Dir     string // its path under the mountpoint
	Model   *Model
	History []Step
	// Resolve, when set, allows EIO for the operations that reach the
	// server at once (mkdir, rmdir, rename, unlink) and finds out which
	// outcome happened; nil: EIO is a failure.
	Resolve Resolver
	// Away, when set, reports whether the server was unreachable at any
	// moment between start and end (an outage case): an operation that
	// needs the server then may fail with EIO — a read of content not
	// cached, a write to a file whose content must be fetched first, an
	// mtime set on a file without local changes — and is taken as not
	// done (the final comparison of the trees checks that it was not).
	// Server operations still go through Resolve.
	Away func(start, end time.Time) bool
}

// serverOp reports whether op is answered by the server before it
// returns (everything else is staged and journaled locally).
func serverOp(k Kind) bool { return k == Mkdir || k == Rmdir || k == Rename || k == Unlink }

// Do runs op through the mount, checks the answer against the model and
// updates the model. The error describes a disagreement.
func (t *Thread) Do(op Op) error {
	want := t.Model.Expect(op)
	start := time.Now()
	got, mismatch := t.exec(op)
	away := t.Away != nil && t.Away(start, time.Now())
	st := Step{Op: op, Got: got, Want: want}
	var err error
	switch {
	case mismatch != nil:
		err = mismatch
	case got == want:
		if got == 0 {
			t.Model.Apply(op)
		}
	case got == syscall.EIO && want == 0 && t.Resolve != nil && serverOp(op.Kind):
		applied, rerr := t.Resolve(op)
		switch {
		case rerr != nil:
			err = fmt.Errorf("resolving EIO: %w", rerr)
		case applied:
			st.Note = "EIO, but the server did it"
			t.Model.Apply(op)
		default:
			st.Note = "EIO, the server did not do it"
		}
	case got == syscall.EIO && want == 0 && away:
		st.Note = NoteAway
	default:
		err = fmt.Errorf("%s: the mount answered %s, the model allows %s", op, errName(got), errName(want))
	}
	t.History = append(t.History, st)
	if err != nil {
		return fmt.Errorf("%s step %d: %w", t.Name, len(t.History), err)
	}
	return nil
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EPROTO // not an errno at all: never what the model wants
}

// exec runs op; mismatch reports content read back that differs.
func (t *Thread) exec(op Op) (syscall.Errno, error) {
	p := filepath.Join(t.Dir, filepath.FromSlash(op.Path))
	switch op.Kind {
	case Create:
		return errnoOf(os.WriteFile(p, Content(op.Seed, op.Size), 0o644)), nil
	case Overwrite, Append:
		flags := os.O_WRONLY
		if op.Kind == Append {
			flags |= os.O_APPEND
		}
		f, err := os.OpenFile(p, flags, 0)
		if err != nil {
			return errnoOf(err), nil
		}
		b := Content(op.Seed, op.Size)
		if op.Kind == Append {
			_, err = f.Write(b)
		} else {
			_, err = f.WriteAt(b, op.Off)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return errnoOf(err), nil
	case Truncate:
		return errnoOf(os.Truncate(p, op.Size)), nil
	case Rename:
		// rename(2) itself: os.Rename refuses any existing folder as
		// the destination with EEXIST before the call.
		return errnoOf(syscall.Rename(p, filepath.Join(t.Dir, filepath.FromSlash(op.To)))), nil
	case Unlink:
		return errnoOf(syscall.Unlink(p)), nil
	case Mkdir:
		return errnoOf(os.Mkdir(p, 0o755)), nil
	case Rmdir:
		return errnoOf(syscall.Rmdir(p)), nil
	case SetMtime:
		return errnoOf(os.Chtimes(p, op.Time, op.Time)), nil
	case Read:
		data, err := os.ReadFile(p)
		if err != nil {
			return errnoOf(err), nil
		}
		if e := t.Model.m[op.Path]; e != nil && !e.dir && !bytes.Equal(data, e.data) {
			return 0, fmt.Errorf("%s: read %d bytes (sha %s), the model holds %d%s", op, len(data), short(data), len(e.data), firstDiff(data, e.data))
		}
		return 0, nil
	}
	return syscall.EPROTO, fmt.Errorf("unknown operation %d", op.Kind)
}

func short(b []byte) string {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

// Tree reads the files and folders under dir (relative "/" paths),
// skipping those skip names (a relative path).
func Tree(dir string, skip func(rel string) bool) (map[string]*entry, error) {
	out := map[string]*entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			out[rel] = &entry{dir: true}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[rel] = &entry{data: data, mtime: info.ModTime()}
		return nil
	})
	return out, err
}

// Compare lists how tree (as Tree read it) differs from what the threads'
// models hold; checkMtime also compares explicitly set mtimes (to the
// second). At most limit differences are listed.
func Compare(tree map[string]*entry, threads []*Thread, checkMtime bool, limit int) []string {
	want := map[string]*entry{}
	for _, t := range threads {
		want[t.Name] = &entry{dir: true}
		for p, e := range t.Model.m {
			want[t.Name+"/"+p] = e
		}
	}
	var diffs []string
	for p, w := range want {
		g := tree[p]
		switch {
		case g == nil:
			diffs = append(diffs, fmt.Sprintf("%s: missing (the model holds %s)", p, describe(w)))
		case g.dir != w.dir:
			diffs = append(diffs, fmt.Sprintf("%s: %s, the model holds %s", p, describe(g), describe(w)))
		case !w.dir && !bytes.Equal(g.data, w.data):
			diffs = append(diffs, fmt.Sprintf("%s: %s, the model holds %s", p, describe(g), describe(w)))
		case checkMtime && !w.dir && !w.mtime.IsZero() && !g.mtime.Truncate(time.Second).Equal(w.mtime):
			diffs = append(diffs, fmt.Sprintf("%s: mtime %v, the model set %v", p, g.mtime.UTC(), w.mtime.UTC()))
		}
	}
	for p, g := range tree {
		if want[p] == nil {
			diffs = append(diffs, fmt.Sprintf("%s: %s, not in the model", p, describe(g)))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > limit {
		diffs = append(diffs[:limit], fmt.Sprintf("… %d more", len(diffs)-limit))
	}
	return diffs
}

func describe(e *entry) string {
	if e.dir {
		return "a folder"
	}
	return fmt.Sprintf("a file of %d bytes (%s)", len(e.data), short(e.data))
}

// History prints the threads' steps, each thread's in order.
func History(threads []*Thread) string {
	var b strings.Builder
	for _, t := range threads {
		fmt.Fprintf(&b, "%s:\n", t.Name)
		for i, s := range t.History {
			fmt.Fprintf(&b, "  %3d %s\n", i+1, s)
		}
	}
	return b.String()
}

// firstDiff describes where got first differs from want, and what it
// holds there (zeros point at content never fetched, other bytes at
// another version's).
func firstDiff(got, want []byte) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			end := i
			for end < len(got) && end < len(want) && got[end] != want[end] {
				end++
			}
			zeros := bytes.Count(got[i:end], []byte{0}) == end-i
			return fmt.Sprintf("; they first differ at byte %d, for %d bytes (all zero: %v)", i, end-i, zeros)
		}
	}
	return ""
}
