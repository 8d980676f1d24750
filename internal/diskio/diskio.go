package diskio

import (
	"errors"
	"os"
	"syscall"
)

// SyncDir fsyncs a directory, so that the entries created or renamed in
// it survive a power cut. A file system that cannot fsync a directory
// (EINVAL, ENOTSUP) has nothing better to offer and is not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}
