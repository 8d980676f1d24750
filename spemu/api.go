package spemu

import (
	"bytes"
	"io"
)

// WriteFile stores data at libPath ("/dir/a.txt") as if another user had
// saved it: the ETag version is bumped and getlastmodified updated. The
// parent folder must exist.
func (s *Server) WriteFile(libPath string, data []byte) error {
	_, _, err := s.st.WriteStream(libPath, bytes.NewReader(data), -1, nil)
	return err
}

// The errors of these methods match fs.ErrNotExist (missing item or
// parent) and fs.ErrExist with errors.Is.

// ReadFile returns the content of the file at libPath.
func (s *Server) ReadFile(libPath string) ([]byte, error) {
	f, _, err := s.st.Open(libPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Remove deletes the file or folder (with its content) at libPath.
func (s *Server) Remove(libPath string) error { return s.st.Remove(libPath) }

// Mkdir creates the folder libPath; its parent must exist.
func (s *Server) Mkdir(libPath string) error {
	_, err := s.st.Mkdir(libPath)
	return err
}

// ETag returns the current `"{GUID},N"` of the item at libPath.
func (s *Server) ETag(libPath string) (string, error) {
	it, err := s.st.Stat(libPath)
	if err != nil {
		return "", err
	}
	return it.ETag(), nil
}

// Stat returns the item at libPath.
func (s *Server) Stat(libPath string) (Item, error) { return s.st.Stat(libPath) }
