package contract

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/odfb/odfb/remote"
)

// Server is one fresh server under test, empty but for its root folder.
type Server struct {
	// Connect returns a new Remote on the server. Each call is a client of
	// its own, as a restarted process would have (the suite resumes an
	// upload session through a second one). An in-memory remote that is
	// its own server returns itself.
	Connect func() remote.Remote
	// ReadFile returns a file's bytes from the server's own storage,
	// bypassing the Remote, so the suite checks what reached the server.
	ReadFile func(path string) ([]byte, error)
	// ExpireUploads makes the server forget every open upload session
	// (SharePoint's 30-minute rule). Required with Options.Chunked.
	ExpireUploads func()
}

// Options describe the implementation under test.
type Options struct {
	// NewServer starts a fresh, empty server; Run calls it once.
	NewServer func(t *testing.T) Server
	// Chunked: the remote implements remote.ChunkedUploader with a
	// working server behind it. False: its methods (if it has them) must
	// answer ErrNotSupported and write nothing.
	Chunked bool
	// CaseInsensitive: SharePoint's names, case-insensitive and
	// case-preserving. False: "a.txt" and "A.txt" are two files.
	CaseInsensitive bool
	// PutETag: Put returns the new ETag. False (Apache sends none on
	// PUT): Put must return "".
	PutETag bool
	// KnownFailures names cases (as "Put/Overwrite") this implementation
	// is known to fail, with the reason. They are skipped with that
	// reason in the log; every other case runs.
	KnownFailures map[string]string
}

// Run runs every case of the contract against one server from
// o.NewServer.
func Run(t *testing.T, o Options) {
	t.Helper()
	if o.NewServer == nil {
		t.Fatal("contract: Options.NewServer is nil")
	}
	s := o.NewServer(t)
	if s.Connect == nil || s.ReadFile == nil {
		t.Fatal("contract: Server.Connect and Server.ReadFile are required")
	}
	if o.Chunked && s.ExpireUploads == nil {
		t.Fatal("contract: Server.ExpireUploads is required with Options.Chunked")
	}
	h := &harness{o: o, s: s, r: s.Connect()}
	// The empty root first, before any case writes.
	t.Run("EmptyRoot", h.emptyRoot)
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					if why, ok := o.KnownFailures[g.name+"/"+c.name]; ok {
						t.Skipf("known failure of this implementation: %s", why)
					}
					c.fn(h, t, h.folder(t, g.name+"-"+c.name))
				})
			}
		})
	}
	for k := range o.KnownFailures {
		if !caseExists(k) {
			t.Errorf("KnownFailures names %q, which is no case of the suite", k)
		}
	}
}

type testCase struct {
	name string
	fn   func(h *harness, t *testing.T, dir string)
}

type group struct {
	name  string
	cases []testCase
}

// groups is the whole suite, in the order it runs.
var groups = []group{
	{"Read", readCases},
	{"Put", putCases},
	{"Mkdir", mkdirCases},
	{"Delete", deleteCases},
	{"Move", moveCases},
	{"Copy", copyCases},
	{"ModTime", modTimeCases},
	{"Names", nameCases},
	{"Case", caseCases},
	{"Misc", miscCases},
	{"Chunked", chunkedCases},
}

func caseExists(name string) bool {
	g, c, ok := strings.Cut(name, "/")
	if !ok {
		return false
	}
	for _, gr := range groups {
		if gr.name == g {
			return slices.ContainsFunc(gr.cases, func(tc testCase) bool { return tc.name == c })
		}
	}
	return false
}

// harness is what every case gets: the options, the server, one client.
type harness struct {
	o Options
	s Server
	r remote.Remote
}

var ctx = context.Background()

// folder makes the case's own folder at the root.
func (h *harness) folder(t *testing.T, name string) string {
	t.Helper()
	dir := remote.Join("/", name)
	if err := h.r.Mkdir(ctx, dir); err != nil {
		t.Fatalf("making the case's folder %s: %v", dir, err)
	}
	return dir
}

func (h *harness) emptyRoot(t *testing.T) {
	root, err := h.r.Stat(ctx, "/")
	mustOK(t, err)
	if !root.IsDir || root.Path != "/" || root.Name() != "" {
		t.Fatalf("Stat(/) = %+v, want the folder \"/\"", root)
	}
	self, kids, err := h.r.List(ctx, "/")
	mustOK(t, err)
	if !self.IsDir || self.Path != "/" {
		t.Fatalf("List(/) self = %+v", self)
	}
	if len(kids) != 0 {
		t.Fatalf("a fresh server's root holds %d entries: %+v", len(kids), kids)
	}
}

// --- helpers ---

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantKind checks that err is a *remote.Error of one of the kinds.
func wantKind(t *testing.T, what string, err error, kinds ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, kinds)
	}
	var re *remote.Error
	if !errors.As(err, &re) {
		t.Fatalf("%s: %v (%T) is not a *remote.Error", what, err, err)
	}
	if re.Op == "" || re.Path == "" {
		t.Errorf("%s: error %v names no operation or no path", what, err)
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("%s: got %v, want kind %v", what, err, kinds)
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// put writes data with no precondition and returns Put's ETag.
func (h *harness) put(t *testing.T, p string, data []byte) string {
	t.Helper()
	etag, err := h.r.Put(ctx, p, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
	if err != nil {
		t.Fatalf("Put %s: %v", p, err)
	}
	return etag
}

// get reads a range through the Remote.
func (h *harness) get(t *testing.T, p string, off, n int64) ([]byte, remote.ObjectInfo) {
	t.Helper()
	rc, info, err := h.r.Get(ctx, p, off, n)
	if err != nil {
		t.Fatalf("Get %s [%d+%d]: %v", p, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get %s: reading the body: %v", p, err)
	}
	return b, info
}

// wantStored checks the server's storage holds want at p.
func (h *harness) wantStored(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := h.s.ReadFile(p)
	if err != nil {
		t.Fatalf("server storage: %s: %v", p, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("server storage: %s holds %d bytes, want %d (%s)", p, len(got), len(want), diffAt(got, want))
	}
}

// wantContent checks both the server's storage and a Get through the
// Remote.
func (h *harness) wantContent(t *testing.T, p string, want []byte) {
	t.Helper()
	h.wantStored(t, p, want)
	got, info := h.get(t, p, 0, -1)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get %s: %d bytes, want %d (%s)", p, len(got), len(want), diffAt(got, want))
	}
	if info.Size != int64(len(want)) {
		t.Fatalf("Get %s: ObjectInfo.Size %d, want %d", p, info.Size, len(want))
	}
}

func diffAt(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return "first difference at byte " + strconv.Itoa(i)
		}
	}
	if len(got) == len(want) {
		return "same"
	}
	return "one is a prefix of the other"
}

// wantGone checks that p is not there, through the Remote and on the
// server.
func (h *harness) wantGone(t *testing.T, p string) {
	t.Helper()
	_, err := h.r.Stat(ctx, p)
	wantKind(t, "Stat "+p, err, remote.ErrNotFound)
	if _, err := h.s.ReadFile(p); err == nil {
		t.Fatalf("server storage still holds %s", p)
	}
}

// wantFile stats p and checks it is a file of size bytes whose Path is p.
func (h *harness) wantFile(t *testing.T, p string, size int64) remote.Entry {
	t.Helper()
	e, err := h.r.Stat(ctx, p)
	if err != nil {
		t.Fatalf("Stat %s: %v", p, err)
	}
	if e.IsDir || e.Size != size || e.Path != p {
		t.Fatalf("Stat %s = %+v, want a file of %d bytes at that path", p, e, size)
	}
	return e
}

// wantDir stats p and checks it is a folder.
func (h *harness) wantDir(t *testing.T, p string) remote.Entry {
	t.Helper()
	e, err := h.r.Stat(ctx, p)
	if err != nil {
		t.Fatalf("Stat %s: %v", p, err)
	}
	if !e.IsDir || e.Path != p || e.Size != 0 {
		t.Fatalf("Stat %s = %+v, want a folder at that path", p, e)
	}
	return e
}

// names lists a folder's children by name, sorted.
func (h *harness) names(t *testing.T, dir string) []string {
	t.Helper()
	self, kids, err := h.r.List(ctx, dir)
	if err != nil {
		t.Fatalf("List %s: %v", dir, err)
	}
	if !self.IsDir || self.Path != dir {
		t.Fatalf("List %s: self = %+v", dir, self)
	}
	var out []string
	for _, k := range kids {
		if remote.Dir(k.Path) != dir {
			t.Fatalf("List %s: child %q is not in the folder", dir, k.Path)
		}
		out = append(out, k.Name())
	}
	slices.Sort(out)
	return out
}

func wantNames(t *testing.T, dir string, got []string, want ...string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("List %s: %q, want %q", dir, got, want)
	}
}
