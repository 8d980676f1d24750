package fusefs_test

import (
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/posixtest"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/remote/remotetest"
)

// posixWrite are posixtest tests run unchanged against a writable mount
// (each on its own mount of an empty library).
var posixWrite = []string{
	"FileBasic", "FileLarge", "AppendWrite", "TruncateFile", "TruncateNoFile", "MkdirRmdir",
	"RenameOverwriteDestExist", "RenameOverwriteDestNoExist", "RenameOpenDir", "OpenAt",
	"FstatDeleted", "NlinkZero", "ReadDirBasic", "DirSeek", "FdLeak", "ParallelFileOpen",
	"DirectIO", "FcntlFlockSetLk", "LseekHoleSeeksToEOF", "LseekEnxioCheck",
}

func TestPosixWriteSide(t *testing.T) {
	for _, name := range posixWrite {
		t.Run(name, func(t *testing.T) {
			m := fstest.Mount(t, fstest.Config{Remote: remotetest.New(), Write: cache.WriteOptions{WriteBack: 10 * time.Millisecond}})
			failIfSkipped(t)
			posixtest.All[name](t, m.Dir)
		})
	}
}

// failIfSkipped turns a posixtest's own t.Skip ("known limitation") into
// a failure: a test on the allow-list has to run, or move to posixLeftOut
// with its reason.
func failIfSkipped(t *testing.T) {
	t.Cleanup(func() {
		if t.Skipped() {
			t.Errorf("posixtest %s skipped itself; it is on the allow-list, so it must pass", t.Name())
		}
	})
}
