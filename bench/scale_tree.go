package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// scaleDir is the library folder that holds the scale workload's tree.
const scaleDir = "bench-scale"

// Tree is the library of the scale workload: Small folders of up to
// PerFolder files each plus one folder of Big files, under scaleDir. The
// default (120,000 files) is 1,000 folders of 100 plus one of 20,000,
// the shape issue 11 measures; other totals keep that shape: one sixth
// of the files in the big folder, the rest in folders of 100.
//
// Names, sizes and contents are a pure function of the seed and the
// file's position, so the tree is written without keeping it in memory
// and a listed path is checked without a table of every name (Has).
type Tree struct {
	Files     int // total files
	Big       int // files in the big folder
	Small     int // number of small folders
	PerFolder int // files per small folder (the last may hold fewer)
	Seed      uint64
}

// perFolder is the size of the small folders.
const perFolder = 100

// NewTree returns the shape of a tree of n files.
func NewTree(n int, seed uint64) Tree {
	t := Tree{Files: n, Big: n / 6, PerFolder: perFolder, Seed: seed}
	rest := n - t.Big
	t.Small = (rest + perFolder - 1) / perFolder
	return t
}

// Folders is the number of folders below scaleDir.
func (t Tree) Folders() int {
	if t.Big > 0 {
		return t.Small + 1
	}
	return t.Small
}

// Entries counts what a client stores metadata for: every file, every
// folder below scaleDir and scaleDir itself.
func (t Tree) Entries() int { return t.Files + t.Folders() + 1 }

// bigFolder is the name of the big folder; small ones are d00000, d00001…
const bigFolder = "big"

// FolderName is the name of small folder i, or of the big folder for
// i == -1.
func (t Tree) FolderName(i int) string {
	if i < 0 {
		return bigFolder
	}
	return fmt.Sprintf("d%05d", i)
}

// FolderFiles is the number of files in folder i (-1: the big folder).
func (t Tree) FolderFiles(i int) int {
	if i < 0 {
		return t.Big
	}
	if i >= t.Small {
		return 0
	}
	rest := t.Files - t.Big
	if i == t.Small-1 {
		return rest - perFolder*(t.Small-1)
	}
	return perFolder
}

// mix is splitmix64: a fast, well-spread hash of (seed, folder, file).
func mix(seed uint64, folder, file int) uint64 {
	z := seed ^ uint64(folder+2)*0x9E3779B97F4A7C15 ^ uint64(file+1)*0xBF58476D1CE4E5B9
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Stems and extensions give the names some of the variety of a real
// library: spaces, mixed case, several lengths (no characters that
// SharePoint or a peer would refuse or map).
var (
	nameStems = []string{"report", "IMG", "Meeting notes", "invoice", "scan", "draft v2", "budget", "photo", "Protokoll", "data"}
	nameExts  = []string{"txt", "pdf", "docx", "jpg", "xlsx", "csv", "png", "md"}
)

// FileName is the name of file j of folder i (-1: the big folder). It
// starts with j, so Has can tell which file a name claims to be.
func (t Tree) FileName(i, j int) string {
	h := mix(t.Seed, i, j)
	return fmt.Sprintf("%06d %s.%s", j, nameStems[h%uint64(len(nameStems))], nameExts[(h>>8)%uint64(len(nameExts))])
}

// FileData is the content of file j of folder i: 0 to 199 seeded bytes.
func (t Tree) FileData(i, j int) []byte {
	h := mix(t.Seed, i, j)
	n := int((h >> 16) % 200)
	b := make([]byte, n)
	for k := range b {
		if k%8 == 0 {
			h = mix(h, i, k)
		}
		b[k] = byte(h >> (8 * (k % 8)))
	}
	return b
}

// Path is the library path of file j in folder i, relative to scaleDir.
func (t Tree) Path(i, j int) string { return t.FolderName(i) + "/" + t.FileName(i, j) }

// Has reports whether rel (relative to scaleDir) is a file of the tree.
func (t Tree) Has(rel string) bool {
	dir, name, ok := strings.Cut(rel, "/")
	if !ok {
		return false
	}
	i := -1
	if dir != bigFolder {
		if len(dir) != 6 || dir[0] != 'd' {
			return false
		}
		n, err := strconv.Atoi(dir[1:])
		if err != nil || n >= t.Small {
			return false
		}
		i = n
	}
	num, _, ok := strings.Cut(name, " ")
	if !ok {
		return false
	}
	j, err := strconv.Atoi(num)
	if err != nil || j < 0 || j >= t.FolderFiles(i) {
		return false
	}
	return t.FileName(i, j) == name
}

// Write creates the tree under root (scaleDir is created inside it),
// several folders at a time.
func (t Tree) Write(root string) error {
	base := filepath.Join(root, scaleDir)
	folders := make(chan int)
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range folders {
				if err := t.writeFolder(base, i); err != nil {
					errc <- err
					for range folders { // drain
					}
					return
				}
			}
		}()
	}
	if t.Big > 0 {
		folders <- -1
	}
	for i := range t.Small {
		folders <- i
	}
	close(folders)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (t Tree) writeFolder(base string, i int) error {
	dir := filepath.Join(base, t.FolderName(i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for j := range t.FolderFiles(i) {
		if err := os.WriteFile(filepath.Join(dir, t.FileName(i, j)), t.FileData(i, j), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// treeChange is what another client changes on the server between two
// walks: one file added, one deleted, in different folders.
type treeChange struct {
	Added   string // relative to scaleDir
	Deleted string
	delI    int // folder and file index of Deleted, to restore it
	delJ    int
}

// Change picks the two changes: a new file in the middle small folder
// and the deletion of a file in the middle of the big folder (so a tool
// must list the 20,000 entries again to notice it). With no big folder,
// the deleted file is in the first small folder.
func (t Tree) Change() treeChange {
	mid := t.Small / 2
	c := treeChange{Added: t.FolderName(mid) + "/added by another client.txt"}
	c.delI, c.delJ = -1, t.Big/2
	if t.Big == 0 {
		c.delI, c.delJ = 0, 0
	}
	c.Deleted = t.Path(c.delI, c.delJ)
	return c
}

// addedData is the content of the file the other client adds.
var addedData = []byte("written by another client between two walks\n")

// errWrongData marks a walk that did not show the server's tree.
var errWrongData = errors.New("WRONG DATA")

// CheckWalk compares the files a walk found (paths relative to scaleDir)
// with the tree, after change c when it is not nil. It returns nil when
// they are exactly the server's files, or an error wrapping errWrongData
// that says what differs: a stale walk (the deleted file still there, the
// added one missing) is named as such.
func (t Tree) CheckWalk(found []string, c *treeChange) error {
	var problems []string
	sorted := append([]string(nil), found...)
	sort.Strings(sorted)
	unknown, dups := 0, 0
	firstUnknown := ""
	sawAdded, sawDeleted := false, false
	for k, p := range sorted {
		if k > 0 && sorted[k-1] == p {
			dups++
			continue
		}
		switch {
		case c != nil && p == c.Added:
			sawAdded = true
		case c != nil && p == c.Deleted:
			sawDeleted = true
		case !t.Has(p):
			if unknown == 0 {
				firstUnknown = p
			}
			unknown++
		}
	}
	if c != nil {
		if sawDeleted {
			problems = append(problems, "stale: deleted "+c.Deleted+" still listed")
		}
		if !sawAdded {
			problems = append(problems, "stale: added "+c.Added+" missing")
		}
	}
	if dups > 0 {
		problems = append(problems, fmt.Sprintf("%d listed twice", dups))
	}
	if unknown > 0 {
		problems = append(problems, fmt.Sprintf("%d not on the server (e.g. %q)", unknown, firstUnknown))
	}
	if len(found) != t.Files {
		problems = append([]string{fmt.Sprintf("%d files found, want %d", len(found), t.Files)}, problems...)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", errWrongData, strings.Join(problems, "; "))
}
