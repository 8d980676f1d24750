package matrix

import (
	"fmt"
	"math/rand/v2"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Kind is an operation of the workload.
type Kind int

// The operations. Read checks content; the others change the tree.
const (
	Create    Kind = iota // O_CREAT|O_TRUNC, write everything, close
	Overwrite             // open an existing file, pwrite inside or past its end, close
	Append                // O_APPEND write, close
	Truncate              // truncate(2) to a size
	Rename                // rename(2), files and folders, onto an existing file too
	Unlink                // unlink(2)
	Mkdir                 // mkdir(2)
	Rmdir                 // rmdir(2)
	SetMtime              // utimensat(2) with a whole-second time
	Read                  // read the whole file and compare
	numKinds
)

var kindNames = [...]string{"create", "overwrite", "append", "truncate", "rename", "unlink", "mkdir", "rmdir", "setmtime", "read"}

func (k Kind) String() string { return kindNames[k] }

// Op is one operation on paths relative to the thread's folder.
type Op struct {
	Kind Kind
	Path string
	To   string    // Rename's destination
	Off  int64     // Overwrite's offset
	Size int64     // bytes written (Create, Overwrite, Append) or Truncate's size
	Seed uint64    // content of the bytes written
	Time time.Time // SetMtime's time
}

func (o Op) String() string {
	switch o.Kind {
	case Rename:
		return fmt.Sprintf("rename %s -> %s", o.Path, o.To)
	case Create, Append:
		return fmt.Sprintf("%s %s (%d bytes, seed %d)", o.Kind, o.Path, o.Size, o.Seed)
	case Overwrite:
		return fmt.Sprintf("overwrite %s at %d (%d bytes, seed %d)", o.Path, o.Off, o.Size, o.Seed)
	case Truncate:
		return fmt.Sprintf("truncate %s to %d", o.Path, o.Size)
	case SetMtime:
		return fmt.Sprintf("setmtime %s %s", o.Path, o.Time.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Path)
}

// Content returns the bytes an operation writes: n bytes from seed.
func Content(seed uint64, n int64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// entry is one file or folder of a model.
type entry struct {
	dir   bool
	data  []byte
	mtime time.Time // set explicitly (zero: never)
}

// Model is what one thread's folder must hold. Paths are relative to
// the folder, "/"-separated, lower case (the server compares names
// case-insensitively; the workload never plays with case).
type Model struct {
	m map[string]*entry
}

// NewModel returns the model of an empty folder.
func NewModel() *Model { return &Model{m: map[string]*entry{}} }

func parent(p string) string {
	if d := path.Dir(p); d != "." {
		return d
	}
	return ""
}

// dirOK reports whether the folder d exists ("" is the thread's folder).
func (m *Model) dirOK(d string) syscall.Errno {
	for cur := d; cur != ""; cur = parent(cur) {
		e := m.m[cur]
		if e == nil {
			// A missing ancestor or the folder itself.
			if up := parent(cur); up != "" {
				if ue := m.m[up]; ue != nil && !ue.dir {
					return syscall.ENOTDIR
				}
			}
			return syscall.ENOENT
		}
		if !e.dir {
			return syscall.ENOTDIR
		}
	}
	return 0
}

// under reports whether p is d or inside it.
func under(p, d string) bool { return p == d || strings.HasPrefix(p, d+"/") }

// Expect returns the errno op must end with given the model (0: it must
// succeed).
func (m *Model) Expect(op Op) syscall.Errno {
	e := m.m[op.Path]
	if errno := m.dirOK(parent(op.Path)); errno != 0 && op.Kind != Rename {
		return errno
	}
	switch op.Kind {
	case Create:
		if e != nil && e.dir {
			return syscall.EISDIR
		}
	case Overwrite, Append, Truncate, Read, SetMtime:
		if e == nil {
			return syscall.ENOENT
		}
		if e.dir && op.Kind != SetMtime {
			return syscall.EISDIR
		}
	case Unlink:
		if e == nil {
			return syscall.ENOENT
		}
		if e.dir {
			return syscall.EISDIR
		}
	case Mkdir:
		if e != nil {
			return syscall.EEXIST
		}
	case Rmdir:
		if e == nil {
			return syscall.ENOENT
		}
		if !e.dir {
			return syscall.ENOTDIR
		}
		for p := range m.m {
			if strings.HasPrefix(p, op.Path+"/") {
				return syscall.ENOTEMPTY
			}
		}
	case Rename:
		if errno := m.dirOK(parent(op.Path)); errno != 0 {
			return errno
		}
		if e == nil {
			return syscall.ENOENT
		}
		if errno := m.dirOK(parent(op.To)); errno != 0 {
			return errno
		}
		if op.To == op.Path {
			return 0
		}
		if e.dir && under(op.To, op.Path) {
			return syscall.EINVAL
		}
		if d := m.m[op.To]; d != nil {
			switch {
			case !e.dir && d.dir:
				return syscall.EISDIR
			case e.dir && !d.dir:
				return syscall.ENOTDIR
			case e.dir && d.dir:
				for p := range m.m {
					if strings.HasPrefix(p, op.To+"/") {
						return syscall.ENOTEMPTY
					}
				}
			}
		}
	}
	return 0
}

// Apply changes the model as op, which succeeded, changed the folder.
func (m *Model) Apply(op Op) {
	switch op.Kind {
	case Create:
		m.m[op.Path] = &entry{data: Content(op.Seed, op.Size)}
	case Overwrite:
		e := m.m[op.Path]
		e.mtime = time.Time{} // a write makes the mtime "now" (POSIX)
		b := Content(op.Seed, op.Size)
		if end := op.Off + op.Size; end > int64(len(e.data)) {
			e.data = append(e.data, make([]byte, end-int64(len(e.data)))...)
		}
		copy(e.data[op.Off:], b)
	case Append:
		e := m.m[op.Path]
		e.mtime = time.Time{}
		e.data = append(e.data, Content(op.Seed, op.Size)...)
	case Truncate:
		e := m.m[op.Path]
		e.mtime = time.Time{}
		if op.Size <= int64(len(e.data)) {
			e.data = e.data[:op.Size]
		} else {
			e.data = append(e.data, make([]byte, op.Size-int64(len(e.data)))...)
		}
	case Unlink, Rmdir:
		delete(m.m, op.Path)
	case Mkdir:
		m.m[op.Path] = &entry{dir: true}
	case SetMtime:
		m.m[op.Path].mtime = op.Time
	case Rename:
		if op.To == op.Path {
			return
		}
		moved := map[string]*entry{}
		for p, e := range m.m {
			if under(p, op.Path) {
				moved[op.To+p[len(op.Path):]] = e
				delete(m.m, p)
			}
		}
		for p := range m.m {
			if under(p, op.To) {
				delete(m.m, p)
			}
		}
		for p, e := range moved {
			m.m[p] = e
		}
	}
}

// Clone returns a copy that Apply on one does not change in the other
// (file content is copied on write by Apply: slices are replaced or
// appended, and Overwrite copies into a slice this clone owns).
func (m *Model) Clone() *Model {
	c := NewModel()
	for p, e := range m.m {
		ce := *e
		ce.data = append([]byte(nil), e.data...)
		c.m[p] = &ce
	}
	return c
}

// paths returns the model's paths, sorted; dirs selects folders (true),
// files (false).
func (m *Model) paths(dirs bool) []string {
	var out []string
	for p, e := range m.m {
		if e.dir == dirs {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Gen makes a thread's operations from its seed, looking at its model so
// that most operations touch what exists (and some deliberately do not).
type Gen struct {
	r        *rand.Rand
	MaxSize  int64 // largest file a Create writes
	BigEvery int   // one Create in BigEvery writes up to BigSize (0: never)
	BigSize  int64
	Base     time.Time // SetMtime times are Base minus up to a year
}

// NewGen returns a generator seeded with seed.
func NewGen(seed uint64) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, 0x5eed)), MaxSize: 64 << 10,
		Base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

var (
	fileNames = []string{"a.txt", "b.bin", "c.dat", "d", "e.log", "f.tmp"}
	dirNames  = []string{"x", "y", "z"}
)

func (g *Gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

// dirFor picks a folder to work in: mostly one that exists, sometimes a
// name that may not.
func (g *Gen) dirFor(m *Model) string {
	dirs := append([]string{""}, m.paths(true)...)
	if g.r.IntN(20) == 0 {
		return g.pick(dirNames) + "/" + g.pick(dirNames)
	}
	return dirs[g.r.IntN(len(dirs))]
}

func join(d, name string) string {
	if d == "" {
		return name
	}
	return d + "/" + name
}

// existingFile picks a file of m, or a new name when there is none.
func (g *Gen) existingFile(m *Model) string {
	files := m.paths(false)
	if len(files) == 0 || g.r.IntN(15) == 0 {
		return join(g.dirFor(m), g.pick(fileNames))
	}
	return files[g.r.IntN(len(files))]
}

// Next returns the next operation for the folder m describes.
func (g *Gen) Next(m *Model) Op {
	w := []int{Create: 20, Overwrite: 10, Append: 8, Truncate: 5, Rename: 12, Unlink: 7, Mkdir: 6, Rmdir: 4, SetMtime: 5, Read: 15}
	total := 0
	for _, x := range w {
		total += x
	}
	n := g.r.IntN(total)
	k := Kind(0)
	for ; n >= w[k]; k++ {
		n -= w[k]
	}
	op := Op{Kind: k, Seed: g.r.Uint64()}
	switch k {
	case Create:
		op.Path = join(g.dirFor(m), g.pick(fileNames))
		op.Size = g.r.Int64N(g.MaxSize + 1)
		if g.BigEvery > 0 && g.r.IntN(g.BigEvery) == 0 {
			op.Size = g.r.Int64N(g.BigSize + 1)
		}
	case Overwrite:
		op.Path = g.existingFile(m)
		size := int64(0)
		if e := m.m[op.Path]; e != nil {
			size = int64(len(e.data))
		}
		op.Off = g.r.Int64N(size + 1)
		op.Size = 1 + g.r.Int64N(8<<10)
	case Append:
		op.Path = g.existingFile(m)
		op.Size = 1 + g.r.Int64N(8<<10)
	case Truncate:
		op.Path = g.existingFile(m)
		op.Size = g.r.Int64N(g.MaxSize + 1)
	case Read, SetMtime:
		op.Path = g.existingFile(m)
		op.Time = g.Base.Add(-time.Duration(g.r.Int64N(365*24*3600)) * time.Second)
	case Unlink:
		op.Path = g.existingFile(m)
	case Mkdir:
		op.Path = join(g.dirFor(m), g.pick(dirNames))
	case Rmdir:
		dirs := m.paths(true)
		if len(dirs) == 0 || g.r.IntN(10) == 0 {
			op.Path = g.pick(dirNames)
		} else {
			op.Path = dirs[g.r.IntN(len(dirs))]
		}
	case Rename:
		dirs := m.paths(true)
		if len(dirs) > 0 && g.r.IntN(4) == 0 {
			// A folder, to a name that is free (replacing a folder is
			// not something SharePoint can do atomically) — or, now and
			// then, into itself (EINVAL).
			op.Path = dirs[g.r.IntN(len(dirs))]
			to := join(g.dirFor(m), g.pick(dirNames))
			if g.r.IntN(8) == 0 {
				to = join(op.Path, g.pick(dirNames))
			}
			for m.m[to] != nil && to != op.Path {
				to += "2"
			}
			op.To = to
		} else {
			op.Path = g.existingFile(m)
			if g.r.IntN(3) == 0 {
				op.To = g.existingFile(m) // onto an existing file, often
			} else {
				op.To = join(g.dirFor(m), g.pick(fileNames))
			}
		}
	}
	return op
}
