package bench

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
)

// davEntry is one <D:response> of a PROPFIND answer.
type davEntry struct {
	Path string // decoded URL path, no trailing slash
	Dir  bool   // resourcetype holds <D:collection/>
}

// parseMultistatus reads the responses of a WebDAV multistatus document.
// It takes the href's path whether the server sends an absolute URL
// (SharePoint, spemu) or a path, and decodes it.
func parseMultistatus(r io.Reader) ([]davEntry, error) {
	var doc struct {
		Responses []struct {
			Href      string `xml:"DAV: href"`
			Propstats []struct {
				Collection *struct{} `xml:"DAV: prop>resourcetype>collection"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("multistatus: %w", err)
	}
	out := make([]davEntry, 0, len(doc.Responses))
	for _, resp := range doc.Responses {
		u, err := url.Parse(strings.TrimSpace(resp.Href))
		if err != nil {
			return nil, fmt.Errorf("multistatus: href %q: %w", resp.Href, err)
		}
		e := davEntry{Path: strings.TrimSuffix(u.Path, "/")}
		for _, ps := range resp.Propstats {
			if ps.Collection != nil {
				e.Dir = true
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// davChildren splits the answer for folder dir (a decoded URL path) into
// its child folders and files; the folder's own entry is left out.
func davChildren(entries []davEntry, dir string) (dirs, files []string) {
	dir = strings.TrimSuffix(dir, "/")
	for _, e := range entries {
		if e.Path == dir {
			continue
		}
		if e.Dir {
			dirs = append(dirs, e.Path)
		} else {
			files = append(files, e.Path)
		}
	}
	return dirs, files
}

// urlForPath is the URL of the decoded path p on the server of base.
func urlForPath(base *url.URL, p string, dir bool) string {
	u := *base
	u.Path = p
	u.RawPath = ""
	s := u.String()
	if dir {
		s += "/"
	}
	return s
}

// walkHTTP lists the tree below the folder URL root with PROPFIND Depth 1,
// `parallel` folders at a time, and returns every file's decoded path.
// The harness uses it once per run before any tool, so spemu has seen
// every item (and written its metadata) before the first timed walk.
func walkHTTP(ctx context.Context, root, cookie string, parallel int) ([]string, error) {
	base, err := url.Parse(root)
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		files []string
		first error
	)
	level := []string{strings.TrimSuffix(base.Path, "/")}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parallel}}
	defer client.CloseIdleConnections()
	for len(level) > 0 {
		var next []string
		work := make(chan string)
		var wg sync.WaitGroup
		for range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for dir := range work {
					dirs, fs, err := propfindDir(ctx, client, urlForPath(base, dir, true), cookie, dir)
					mu.Lock()
					if err != nil && first == nil {
						first = err
					}
					next = append(next, dirs...)
					files = append(files, fs...)
					mu.Unlock()
				}
			}()
		}
		for _, d := range level {
			work <- d
		}
		close(work)
		wg.Wait()
		if first != nil {
			return nil, first
		}
		level = next
	}
	return files, nil
}

func propfindDir(ctx context.Context, client *http.Client, u, cookie, dir string) (dirs, files []string, err error) {
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", u, strings.NewReader(
		`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>`))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Depth", "1")
	req.Header.Set("Content-Type", "application/xml")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, nil, fmt.Errorf("PROPFIND %s: %s", path.Base(dir), resp.Status)
	}
	entries, err := parseMultistatus(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("PROPFIND %s: %w", path.Base(dir), err)
	}
	dirs, files = davChildren(entries, dir)
	return dirs, files, nil
}

// serverRequest sends one request as "another client" (not through any
// mount) and checks its status.
func serverRequest(ctx context.Context, method, u, cookie string, body []byte, want ...int) error {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	return fmt.Errorf("%s %s: %s", method, u, resp.Status)
}
