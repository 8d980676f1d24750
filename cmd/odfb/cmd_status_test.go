package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := cache.Status{
		Now: now,
		Queue: []cache.QueueItem{
			{Path: "/big.img", Size: 100 << 20, Sent: 25 << 20, Uploading: true, Started: now.Add(-5 * time.Second), Chunked: true, Offset: 20 << 20},
			{Path: "/waiting.txt", Size: 4096},
			{Path: "/bad.bin", Size: 10, Attempts: 3, LastError: "server error", NextTry: now.Add(40 * time.Second)},
		},
		LostFound:    []cache.LostItem{{Path: "/x.", File: "/c/lost+found/x.", Reason: "name not allowed"}},
		Conflicts:    []cache.ConflictItem{{Path: "/a.txt", Copy: "/a (conflict 2026-01-02 h).txt"}},
		ContentBytes: 1 << 20, StagingBytes: 100 << 20, CacheDir: "/c",
	}
	var b bytes.Buffer
	printStatus(&b, st)
	out := b.String()
	for _, want := range []string{
		"uploads: 3 queued (1 running, 1 waiting, 1 failing)",
		"[#####...............]  25% /big.img  25.0 MiB / 100.0 MiB  5.0 MiB/s  ETA 15s  (chunked, 20.0 MiB confirmed)",
		"waiting /waiting.txt (4.0 KiB)",
		"FAILING /bad.bin (10 B): 3 attempts, last error: server error; next try in 40s",
		"lost+found: 1 files",
		"/a.txt: ours is /a (conflict 2026-01-02 h).txt",
		"auth: ok",
		"cache: 1.0 MiB content, 100.0 MiB staged, in /c",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []struct{ err, want, next string }{
		{"PUT /a: not authenticated (HTTP 403): 917656 Access denied: the server refused the renewed credentials (cookie-file /c)",
			"auth: FAILING at sign-in step cookie: PUT /a: not authenticated", "next: renew the credentials"},
		{"PUT /a: not authenticated: sign-in step exchange failed: oauth: SharePoint refused the token exchange: … (client id x); next: routes that remain: (1) …",
			"auth: FAILING at sign-in step exchange: PUT /a: not authenticated: oauth: SharePoint refused the token exchange", "next: routes that remain: (1) …"},
		{"PUT /a: not authenticated: sign-in step token failed: oauth: the stored login can no longer be renewed (invalid_grant: AADSTS53003: Access has been blocked…): a Conditional Access policy blocks this sign-in; next: use cookies from a browser the policy trusts",
			"auth: FAILING at sign-in step token: PUT /a: not authenticated: oauth: the stored login", "next: use cookies from a browser the policy trusts"},
	} {
		st.AuthError = c.err
		b.Reset()
		printStatus(&b, st)
		for _, want := range []string{c.want, c.next} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("status for %q lacks %q:\n%s", c.err, want, b.String())
			}
		}
	}
}
