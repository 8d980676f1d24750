package control

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Request is one command.
type Request struct {
	Op string `json:"op"` // "sync", "status", "unmount"
}

// Response answers a Request. Status carries the mount's status for
// "status" (and for a failed "sync").
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Status json.RawMessage `json:"status,omitempty"`
}

// Handler does the work of each operation.
type Handler interface {
	// Sync waits until every journaled upload is on the server.
	Sync(ctx context.Context) error
	// Status returns a JSON-encodable description of the mount.
	Status() any
	// Unmount starts unmounting (the mount drains its queue first).
	Unmount() error
}

// RuntimeDir returns the directory holding the sockets of the user's
// mounts.
func RuntimeDir() string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "odfb")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("odfb-%d", os.Getuid()))
}

// SocketPath returns the socket of the mount at mountpoint.
func SocketPath(mountpoint string) (string, error) {
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(filepath.Clean(abs)))
	return filepath.Join(RuntimeDir(), hex.EncodeToString(sum[:8])+".sock"), nil
}

// privateDir creates dir 0700 and checks it belongs to the user.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || !ok || int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("%s is not a directory owned by uid %d", dir, os.Getuid())
	}
	if st.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// Server serves the control socket of one mount.
type Server struct {
	ln   *net.UnixListener
	path string
	h    Handler
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Listen creates the socket of the mount at mountpoint and serves it
// until Close. A stale socket left by a killed mount is replaced; a live
// one (another mount answering there) is an error.
func Listen(mountpoint string, h Handler, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	path, err := SocketPath(mountpoint)
	if err != nil {
		return nil, err
	}
	if err := privateDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another odfb serves %s", path, mountpoint)
	}
	os.Remove(path)
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{ln: ln, path: path, h: h, log: log}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops serving and removes the socket. Requests being answered
// (a sync waiting) are cancelled.
func (s *Server) Close() error {
	s.stop()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("control socket accept", "err", err)
			}
			return
		}
		if !s.allowed(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

// allowed checks the peer's uid: the mount's owner, or root.
func (s *Server) allowed(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	var cerr error
	raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cerr != nil || cred == nil {
		s.log.Warn("control socket: cannot identify the peer; refused", "err", cerr)
		return false
	}
	if int(cred.Uid) != os.Getuid() && cred.Uid != 0 {
		s.log.Warn("control socket: refused a connection from another user", "uid", cred.Uid)
		return false
	}
	return true
}

func (s *Server) handle(c *net.UnixConn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	// unmounting is held while an unmount is started and answered: the
	// unmount ends by closing this server, which must not cut the answer
	// off (Unmount only starts it, so this is brief).
	var unmounting sync.Mutex
	go func() { // a client that goes away cancels its sync
		<-ctx.Done()
		unmounting.Lock()
		c.Close()
		unmounting.Unlock()
	}()
	sc := bufio.NewScanner(c)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		var req Request
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Error = "bad request: " + err.Error()
		} else if req.Op == "unmount" {
			unmounting.Lock()
			resp = s.do(ctx, req)
			err := enc.Encode(resp)
			unmounting.Unlock()
			if err != nil {
				return
			}
			continue
		} else {
			resp = s.do(ctx, req)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

func (s *Server) do(ctx context.Context, req Request) Response {
	status := func() json.RawMessage {
		data, _ := json.Marshal(s.h.Status())
		return data
	}
	switch req.Op {
	case "status":
		return Response{OK: true, Status: status()}
	case "sync":
		if err := s.h.Sync(ctx); err != nil {
			return Response{Error: err.Error(), Status: status()}
		}
		return Response{OK: true}
	case "unmount":
		if err := s.h.Unmount(); err != nil {
			return Response{Error: err.Error()}
		}
		return Response{OK: true}
	}
	return Response{Error: fmt.Sprintf("unknown op %q", req.Op)}
}

// ErrNoMount reports that no odfb answers for a mountpoint.
var ErrNoMount = errors.New("no running odfb mount there (or it belongs to another user)")

// Call sends one request to the mount at mountpoint and returns its
// answer. ctx bounds the wait (a sync may take long).
func Call(ctx context.Context, mountpoint string, req Request) (Response, error) {
	path, err := SocketPath(mountpoint)
	if err != nil {
		return Response{}, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, fmt.Errorf("%s: %w (%v)", mountpoint, ErrNoMount, err)
	}
	defer c.Close()
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, err
	}
	var resp Response
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return Response{}, ctx.Err()
		}
		return Response{}, fmt.Errorf("%s: the mount closed the control connection: %w", mountpoint, err)
	}
	return resp, nil
}
