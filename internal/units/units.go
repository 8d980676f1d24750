package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSize parses a byte count with an optional binary unit: a plain
// number is bytes; K, M, G, T (also KB/KiB, MB/MiB, …, any case) multiply
// by 1024^n. "100M" → 104857600, "1.5G" → 1610612736. A trailing "/s" is
// accepted so the same parser reads bandwidths. Negative sizes are refused.
func ParseSize(s string) (int64, error) {
	in := s
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "/s")
	if s == "" {
		return 0, fmt.Errorf("invalid size %q", in)
	}
	upper := strings.ToUpper(s)
	upper = strings.TrimSuffix(upper, "IB")
	upper = strings.TrimSuffix(upper, "B")
	mult := float64(1)
	if n := len(upper); n > 0 {
		switch upper[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		case 'P':
			mult = 1 << 50
		}
		if mult != 1 {
			upper = upper[:n-1]
		}
	}
	upper = strings.TrimSpace(upper)
	if i, err := strconv.ParseInt(upper, 10, 64); err == nil {
		if i < 0 {
			return 0, fmt.Errorf("invalid size %q: negative", in)
		}
		if float64(i)*mult > math.MaxInt64 {
			return 0, fmt.Errorf("invalid size %q: too large", in)
		}
		return i * int64(mult), nil
	}
	f, err := strconv.ParseFloat(upper, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("invalid size %q", in)
	}
	if f < 0 {
		return 0, fmt.Errorf("invalid size %q: negative", in)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", in)
	}
	return int64(v), nil
}

// FormatSize writes n with the largest binary unit that divides it
// exactly: 104857600 → "100M", 1000 → "1000".
func FormatSize(n int64) string {
	units := []string{"", "K", "M", "G", "T", "P"}
	i := 0
	for n != 0 && n%1024 == 0 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return strconv.FormatInt(n, 10) + units[i]
}
