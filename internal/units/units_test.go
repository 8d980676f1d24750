package units

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "512": 512, "100M": 104857600, "250M": 262144000, "1G": 1 << 30, "1g": 1 << 30,
		"64K": 65536, "64KiB": 65536, "64KB": 65536, "1.5G": 1610612736, " 2M ": 2 << 20, "10M/s": 10 << 20, "1T": 1 << 40,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1", "abc", "1X", "1e400", "9999999P"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 1000: "1000", 104857600: "100M", 1 << 30: "1G", 1536: "3K" /* 1536 = 1.5K → not exact */} {
		if n == 1536 {
			want = "1536"
		}
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
