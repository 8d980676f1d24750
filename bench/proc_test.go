package bench

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMountinfo(t *testing.T) {
	info := []byte("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" +
		`95 22 0:50 / /tmp/odfb-bench-1/ls\040odfb/mnt rw,nosuid,nodev - fuse.odfb odfb rw` + "\n")
	if !mountinfoHas(info, "/tmp/odfb-bench-1/ls odfb/mnt/") {
		t.Error("escaped mount point not found")
	}
	if mountinfoHas(info, "/tmp/odfb-bench-1") || mountinfoHas(info, "/tmp/odfb-bench-1/ls\\040odfb/mnt") {
		t.Error("found a path that is not a mount point")
	}
}

func TestProcParsers(t *testing.T) {
	status := []byte("Name:\trclone\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\n")
	if got := parseVmHWM(status); got != 51200*1024 {
		t.Errorf("VmHWM = %d", got)
	}
	if parseVmHWM([]byte("Name:\tx\n")) != 0 {
		t.Error("VmHWM of a kernel thread should be 0")
	}
	// comm may contain spaces and parentheses; utime=250, stime=50 ticks.
	stat := []byte("1234 (mount.davfs (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 300")
	if got := parseStatCPU(stat); got != 3*time.Second {
		t.Errorf("CPU = %v, want 3s", got)
	}
}

func TestSecretsQuoting(t *testing.T) {
	cookie := `FedAuth=77u/PD94,bWw; rtFa=a"b\c`
	r := csv.NewReader(strings.NewReader(csvLine("Cookie", cookie)))
	rec, err := r.Read()
	if err != nil || len(rec) != 2 || rec[0] != "Cookie" || rec[1] != cookie {
		t.Errorf("csvLine round trip = %q, %v", rec, err)
	}
	if got, want := davfsQuote(cookie), `"FedAuth=77u/PD94,bWw; rtFa=a\"b\\c"`; got != want {
		t.Errorf("davfsQuote = %s, want %s", got, want)
	}
}

func TestReadCookieFile(t *testing.T) {
	dir := t.TempDir()
	for in, want := range map[string]string{
		"FedAuth=abc; rtFa=def\n":         "FedAuth=abc; rtFa=def",
		"Cookie: FedAuth=abc; rtFa=def\n": "FedAuth=abc; rtFa=def",
	} {
		p := filepath.Join(dir, "c")
		if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := readCookieFile(p); err != nil || got != want {
			t.Errorf("readCookieFile(%q) = %q, %v", in, got, err)
		}
	}
	p := filepath.Join(dir, "two")
	os.WriteFile(p, []byte("a=1\nb=2\n"), 0o600)
	if _, err := readCookieFile(p); err == nil {
		t.Error("two lines: want an error")
	} else if strings.Contains(err.Error(), "a=1") {
		t.Errorf("error shows the cookie: %v", err)
	}
}

func TestSeededData(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	sum, err := writeSeeded(p, 3<<20+5, 7)
	if err != nil {
		t.Fatal(err)
	}
	if sum != seededSum(3<<20+5, 7) {
		t.Error("writeSeeded and seededSum disagree")
	}
	if sum == seededSum(3<<20+5, 8) {
		t.Error("different seeds give the same data")
	}
	got, n, err := fileSum(p)
	if err != nil || n != 3<<20+5 || got != sum {
		t.Errorf("fileSum = %x, %d, %v", got, n, err)
	}
	// writeStream (the mount-side writer) produces the same bytes.
	q := filepath.Join(t.TempDir(), "g")
	if err := writeStream(t.Context(), q, 3<<20+5, 7); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(q)
	if !bytes.Equal(a, b) {
		t.Error("writeStream differs from writeSeeded")
	}
}

func TestFixtures(t *testing.T) {
	s := &Server{Root: t.TempDir(), URL: "http://127.0.0.1:1/personal/a/Documents/"}
	sz := Sizes{ListFiles: 7, SeqBytes: 1<<20 + 3, SparseBytes: 64 << 10, RandReads: 16}
	fx, err := makeFixtures(s, sz, 1, map[string]bool{"ls": true, "seqread": true, "randread": true})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(s.Local(listDir))
	if len(ents) != 7 || len(fx.listNames) != 7 {
		t.Errorf("list folder has %d files, fixtures name %d; want 7", len(ents), len(fx.listNames))
	}
	if sum, n, _ := fileSum(s.Local(seqFile)); n != sz.SeqBytes || sum != fx.seqSum {
		t.Errorf("seq file: %d bytes, checksum match %v", n, sum == fx.seqSum)
	}
	data, err := os.ReadFile(s.Local(sparseFile))
	if err != nil || int64(len(data)) != sz.SparseBytes {
		t.Fatalf("sparse file: %d bytes, %v", len(data), err)
	}
	if len(fx.randOff) != 16 {
		t.Fatalf("%d offsets, want 16 (all distinct blocks)", len(fx.randOff))
	}
	for i, off := range fx.randOff {
		if off%randBlock != 0 || !bytes.Equal(data[off:off+randBlock], fx.randBlocks[i]) {
			t.Errorf("block %d at %d does not hold its data", i, off)
		}
	}
	if serverHas(s, map[string]int64{seqFile: sz.SeqBytes, listDir + "/" + fx.listNames[0]: -1}) {
		t.Error("serverHas: one wrong size must fail the whole set")
	}
	if serverHas(s, map[string]int64{seqFile: sz.SeqBytes + 1}) || !serverHas(s, map[string]int64{seqFile: sz.SeqBytes}) {
		t.Error("serverHas does not compare sizes")
	}
	if got := s.FileURL("bench-small-odfb-1/a b#.bin"); got != "http://127.0.0.1:1/personal/a/Documents/bench-small-odfb-1/a%20b%23.bin" {
		t.Errorf("FileURL = %s", got)
	}
	if got := s.FileURL(listDir + "/"); got != "http://127.0.0.1:1/personal/a/Documents/bench-list/" {
		t.Errorf("FileURL of a folder = %s", got)
	}
}

func TestMountedUnder(t *testing.T) {
	if !MountedUnder("/") {
		t.Error("/ is always mounted")
	}
	if MountedUnder(t.TempDir()) {
		t.Error("a fresh temp dir has no mounts")
	}
}
