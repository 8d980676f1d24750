package spemu

import (
	"encoding/binary"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"
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
	if !s.rewrites(it.Name) {
		return
	}
	if d := s.cfg.RewriteDelay; d > 0 {
		s.delayedRewrite(it, d)
		return
	}
	if err := s.mutateOffice(it); err != nil {
		s.logger.Warn("spemu: office mutation failed; file left as uploaded", "path", it.Path, "err", err)
	}
}

// rewrites reports whether uploads of name are rewritten after upload.
func (s *Server) rewrites(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	if s.cfg.OfficeMutation && officeExts[ext] {
		return true
	}
	for _, e := range s.cfg.RewriteExts {
		if e == "*" || strings.EqualFold(e, ext) || strings.EqualFold("."+e, ext) {
			return true
		}
	}
	return false
}

type rewriteKey struct{}

// rewriteTimers are the delayed rewrites not yet done; Close stops them.
type rewriteTimers struct {
	mu     sync.Mutex
	closed bool
	timers map[*time.Timer]bool
}

func (s *Server) delayedRewrite(it Item, d time.Duration) {
	rt := s.extState(rewriteKey{}, func() any {
		rt := &rewriteTimers{timers: map[*time.Timer]bool{}}
		s.onClose(func() {
			rt.mu.Lock()
			rt.closed = true
			for t := range rt.timers {
				t.Stop()
			}
			rt.mu.Unlock()
		})
		return rt
	}).(*rewriteTimers)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		rt.mu.Lock()
		live := rt.timers[t] && !rt.closed
		delete(rt.timers, t)
		rt.mu.Unlock()
		if !live {
			return
		}
		if err := s.mutateOffice(it); err != nil {
			s.logger.Warn("spemu: delayed rewrite failed; file left as uploaded", "path", it.Path, "err", err)
		}
	})
	rt.timers[t] = true
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
	head := make([]byte, 2)
	_, herr := in.ReadAt(head, 0)
	switch {
	case zipped:
		_, err = out.WriteAt([]byte(officeStamp), n)
	case herr == nil && head[0] == 0xFF && head[1] == 0xD8:
		err = insertJPEGComment(in, out, n)
	default:
		_, err = out.WriteAt([]byte("\r\n"+officeStamp), n)
	}
	if err != nil {
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

// jpegComment is the 12 bytes a rewritten JPEG gains: a COM segment
// (FF FE, length 10, 8 bytes of text) right after the start marker, so
// the picture stays valid, as SharePoint's +12 bytes of JFIF data do.
var jpegComment = []byte{0xFF, 0xFE, 0x00, 0x0A, 's', 'p', 'e', 'm', 'u', 'j', 'p', 'g'}

// insertJPEGComment rewrites out (a copy of in, n bytes) with
// jpegComment after the first two bytes.
func insertJPEGComment(in io.ReaderAt, out *os.File, n int64) error {
	if _, err := out.WriteAt(jpegComment, 2); err != nil {
		return err
	}
	_, err := io.Copy(io.NewOffsetWriter(out, 2+int64(len(jpegComment))), io.NewSectionReader(in, 2, n-2))
	return err
}
