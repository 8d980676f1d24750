package diskio

import (
	"errors"
	"io"
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

// CopyFile copies everything in to a new file dst (made 0600, refused
// if dst exists), fsynced when durable is set. The caller closes in.
func CopyFile(in io.Reader, dst string, durable bool) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if durable {
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}
