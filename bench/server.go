package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Server is the spemu process every tool of the run talks to.
type Server struct {
	URL    string // library URL as spemu printed it, ending in "/"
	Root   string // directory spemu serves the library from
	Cookie string // Cookie header value for the peers ("" with --auth none)
	// CookieFile is the 0600 file spemu wrote the cookie to (odfb reads it).
	CookieFile string
	Log        LogTail
	p          *proc
}

// StartServer runs bin/spemu on a loopback port with the run's latency,
// bandwidth and auth, and waits for its URL.
func StartServer(ctx context.Context, cfg Config, extraArgs []string) (*Server, error) {
	bin := filepath.Join(cfg.BinDir, "spemu")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s not found: build it first (make build): %w", bin, err)
	}
	root := filepath.Join(cfg.WorkDir, "server-root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Root: root, Log: LogTail{Path: filepath.Join(cfg.WorkDir, "requests.jsonl")}}
	args := []string{bin,
		"--listen", "127.0.0.1:0",
		"--root", root,
		"--request-log", s.Log.Path,
		"--latency", cfg.Latency.String(),
	}
	switch {
	case cfg.PutLimit < 0:
		args = append(args, "--put-limit", "-1")
	case cfg.PutLimit > 0:
		args = append(args, "--put-limit", fmt.Sprint(cfg.PutLimit))
	}
	if cfg.Bandwidth > 0 {
		args = append(args, "--bandwidth", fmt.Sprint(cfg.Bandwidth))
	}
	cookieFile := filepath.Join(cfg.WorkDir, "spemu-cookie")
	switch cfg.Auth {
	case "none":
		args = append(args, "--auth", "none")
	case "cookie":
		args = append(args, "--auth", "cookie", "--write-cookie-file", cookieFile)
	default:
		return nil, fmt.Errorf("auth %q: want cookie or none", cfg.Auth)
	}
	args = append(args, extraArgs...)
	first := make(chan string, 1)
	p, err := startProc("spemu", filepath.Join(cfg.WorkDir, "spemu.log"), nil, first, args...)
	if err != nil {
		return nil, err
	}
	s.p = p
	select {
	case line := <-first:
		if !strings.HasPrefix(line, "http://127.0.0.1:") && !strings.HasPrefix(line, "http://localhost:") {
			s.Close()
			return nil, fmt.Errorf("spemu printed %q as its first line, want a loopback library URL:\n%s", line, logTail(p.logPath, 10))
		}
		s.URL = strings.TrimSuffix(line, "/") + "/"
	case <-p.done:
		return nil, fmt.Errorf("spemu exited (%v):\n%s", p.err, logTail(p.logPath, 15))
	case <-time.After(30 * time.Second):
		s.Close()
		return nil, fmt.Errorf("spemu printed no URL within 30s:\n%s", logTail(p.logPath, 15))
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	if cfg.Auth == "cookie" {
		c, err := readCookieFile(cookieFile)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Cookie, s.CookieFile = c, cookieFile
	}
	return s, nil
}

// readCookieFile returns the Cookie header value in file, accepting an
// optional "Cookie:" prefix; the value itself is never logged.
func readCookieFile(file string) (string, error) {
	var data []byte
	var err error
	for range 50 { // spemu may write it just after printing its URL
		if data, err = os.ReadFile(file); err == nil && len(strings.TrimSpace(string(data))) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return "", fmt.Errorf("spemu cookie file %s: %w", file, err)
	}
	v := strings.TrimSpace(string(data))
	if len(v) > 7 && strings.EqualFold(v[:7], "cookie:") {
		v = strings.TrimSpace(v[7:])
	}
	if v == "" || strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("spemu cookie file %s: want one Cookie header value", file)
	}
	return v, nil
}

// Close stops spemu.
func (s *Server) Close() {
	if s.p != nil {
		s.p.stop(5 * time.Second)
	}
}

// FileURL is the URL of a library-relative path, each segment escaped.
func (s *Server) FileURL(rel string) string {
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	u := s.URL + strings.Join(segs, "/")
	if strings.HasSuffix(rel, "/") {
		u += "/"
	}
	return u
}

// Local is the server-side file behind a library-relative path.
func (s *Server) Local(rel string) string { return filepath.Join(s.Root, filepath.FromSlash(rel)) }

// Fixture paths, relative to the library root.
const (
	listDir    = "bench-list"
	seqFile    = "bench-seq.bin"
	sparseFile = "bench-sparse.bin"
)

// fixtures holds what the read workloads must find, to check every byte
// the tools return.
type fixtures struct {
	listNames  []string
	seqSum     [32]byte
	randOff    []int64
	randBlocks [][]byte
	tree       Tree // the scale workload's library, written below scaleDir
}

const randBlock = 4096

// makeFixtures writes the read workloads' files straight into spemu's
// root: a folder of small files, a random file for sequential reads and a
// sparse file with random 4 KiB blocks at the offsets the random-read
// workload will use. Data is seeded so runs are comparable.
func makeFixtures(s *Server, sz Sizes, seed uint64, need map[string]bool) (*fixtures, error) {
	fx := &fixtures{}
	rng := rand.New(rand.NewPCG(seed, 1))
	if need["ls"] || need["stat"] {
		dir := s.Local(listDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		buf := make([]byte, 2048)
		for i := range sz.ListFiles {
			name := fmt.Sprintf("file-%04d.txt", i)
			fillRandom(rng, buf)
			n := 100 + rng.IntN(len(buf)-100)
			if err := os.WriteFile(filepath.Join(dir, name), buf[:n], 0o644); err != nil {
				return nil, err
			}
			fx.listNames = append(fx.listNames, name)
		}
	}
	if need["scale"] {
		fx.tree = NewTree(sz.ScaleFiles, seed)
		if err := fx.tree.Write(s.Root); err != nil {
			return nil, fmt.Errorf("scale tree: %w", err)
		}
	}
	if need["seqread"] {
		sum, err := writeSeeded(s.Local(seqFile), sz.SeqBytes, seed+2)
		if err != nil {
			return nil, err
		}
		fx.seqSum = sum
	}
	if need["randread"] {
		f, err := os.Create(s.Local(sparseFile))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := f.Truncate(sz.SparseBytes); err != nil {
			return nil, err
		}
		blocks := sz.SparseBytes / randBlock
		used := map[int64]bool{}
		for len(fx.randOff) < sz.RandReads && int64(len(used)) < blocks {
			b := rng.Int64N(blocks)
			if used[b] {
				continue
			}
			used[b] = true
			data := make([]byte, randBlock)
			fillRandom(rng, data)
			if _, err := f.WriteAt(data, b*randBlock); err != nil {
				return nil, err
			}
			fx.randOff = append(fx.randOff, b*randBlock)
			fx.randBlocks = append(fx.randBlocks, data)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return fx, nil
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// seededReader yields n pseudo-random bytes from seed, fast enough
// (ChaCha8) not to be the bottleneck of a write benchmark.
func seededReader(n int64, seed uint64) io.Reader {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// writeSeeded writes n seeded bytes to path and returns their SHA-256.
func writeSeeded(path string, n int64, seed uint64) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Create(path)
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.Copy(w, seededReader(n, seed)); err != nil {
		f.Close()
		return sum, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, f.Close()
}

// seededSum is the SHA-256 of what writeSeeded(n, seed) writes.
func seededSum(n int64, seed uint64) [32]byte {
	var sum [32]byte
	h := sha256.New()
	io.Copy(h, seededReader(n, seed))
	copy(sum[:], h.Sum(nil))
	return sum
}

// fileSum hashes a file.
func fileSum(path string) ([32]byte, int64, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	copy(sum[:], h.Sum(nil))
	return sum, n, err
}
