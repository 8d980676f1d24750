package spemu

import (
	"encoding/binary"
	"io"
	"os"
	"path"
	"strings"
)

// officeExts are the types whose uploads SharePoint rewrites (property
// promotion), as rclone's docs and issue #3564 describe.
var officeExts = map[string]bool{
	".docx": true, ".docm": true, ".dotx": true, ".dotm": true,
	".xlsx": true, ".xlsm": true, ".xltx": true, ".xltm": true,
	".pptx": true, ".pptm": true, ".potx": true, ".potm": true,
}

// officeStamp is what the mutation adds: in a zip's end-of-central-
// directory comment when the upload is a well-formed zip (so the document
// stays valid), else appended.
const officeStamp = "SharePoint property promotion (spemu)"

// afterUpload runs after a file upload is committed (WebDAV PUT; the REST
// upload calls it after FinishUpload / AddUsingPath too). With
// Config.OfficeMutation it rewrites Office files as a new version, so the
// size and ETag the client saw in the upload response are outdated at
// once, like SharePoint's property promotion.
func (s *Server) afterUpload(it Item) {
	if !s.cfg.OfficeMutation || !officeExts[strings.ToLower(path.Ext(it.Name))] {
		return
	}
	if err := s.mutateOffice(it); err != nil {
		s.logger.Warn("spemu: office mutation failed; file left as uploaded", "path", it.Path, "err", err)
	}
}

func (s *Server) mutateOffice(it Item) error {
	in, cur, err := s.st.Open(it.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	if cur.GUID != it.GUID || cur.Version != it.Version {
		return nil // replaced meanwhile
	}
	out, err := s.st.TempFile()
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	n, err := io.Copy(out, in)
	if err != nil {
		out.Close()
		return err
	}
	// End-of-central-directory record: 22 bytes + comment, at the end.
	tail := make([]byte, 22)
	zipped := false
	if n >= 22 {
		if _, err := in.ReadAt(tail, n-22); err == nil && binary.LittleEndian.Uint32(tail) == 0x06054b50 && binary.LittleEndian.Uint16(tail[20:]) == 0 {
			binary.LittleEndian.PutUint16(tail[20:], uint16(len(officeStamp)))
			if _, err := out.WriteAt(tail[20:22], n-2); err != nil {
				out.Close()
				return err
			}
			zipped = true
		}
	}
	stamp := officeStamp
	if !zipped {
		stamp = "\r\n" + officeStamp
	}
	if _, err := out.WriteAt([]byte(stamp), n); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	_, _, err = s.st.CommitFile(it.Path, out.Name(), func(c Item, exists bool) error {
		if !exists || c.GUID != it.GUID || c.Version != it.Version {
			return errPrecondition // someone wrote meanwhile: leave theirs
		}
		return nil
	})
	if err == errPrecondition {
		return nil
	}
	return err
}
