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
			posixtest.All[name](t, m.Dir)
		})
	}
}
