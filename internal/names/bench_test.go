package names

// Benchmarks of the name mapping fusefs does for every lookup, readdir
// entry and path it sends down. One op maps 1,000 names (or paths); the
// "plain" set is what most libraries hold (nothing to map), "mapped" has
// one of SharePoint's forbidden characters in every name. Run with
//
//	go test -run '^$' -bench . -benchmem ./internal/names/

import (
	"fmt"
	"testing"
)

const benchNames = 1000

func benchLocalNames(mapped bool) []string {
	forbidden := []string{`"`, `*`, `:`, `<`, `>`, `?`, `\`, `|`}
	out := make([]string, benchNames)
	for i := range out {
		if mapped {
			out[i] = fmt.Sprintf("Report %04d%s draft.docx", i, forbidden[i%len(forbidden)])
		} else {
			out[i] = fmt.Sprintf("Report %04d draft.docx", i)
		}
	}
	return out
}

func reportPerName(b *testing.B, iters int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*benchNames), "ns/name")
}

// BenchmarkToServer maps local names to server names (lookup, create).
func BenchmarkToServer(b *testing.B) {
	for _, set := range []struct {
		name   string
		mapped bool
	}{{"plain", false}, {"mapped", true}} {
		b.Run(set.name, func(b *testing.B) {
			local := benchLocalNames(set.mapped)
			want := make([]string, len(local))
			for i, n := range local {
				want[i] = ToServer(n)
			}
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				for i, n := range local {
					if ToServer(n) != want[i] {
						b.Fatalf("ToServer(%q) changed", n)
					}
				}
				iters++
			}
			reportPerName(b, iters)
		})
	}
}

// BenchmarkToLocal maps server names to the names a listing shows
// (every readdir entry).
func BenchmarkToLocal(b *testing.B) {
	for _, set := range []struct {
		name   string
		mapped bool
	}{{"plain", false}, {"mapped", true}} {
		b.Run(set.name, func(b *testing.B) {
			local := benchLocalNames(set.mapped)
			server := make([]string, len(local))
			for i, n := range local {
				server[i] = ToServer(n)
			}
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				for i, s := range server {
					if ToLocal(s) != local[i] {
						b.Fatalf("ToLocal(%q) != %q", s, local[i])
					}
				}
				iters++
			}
			reportPerName(b, iters)
		})
	}
}

// BenchmarkPathToServerAndCheck maps a four-level local path and checks
// it against SharePoint's rules, as a create does.
func BenchmarkPathToServerAndCheck(b *testing.B) {
	local := benchLocalNames(true)
	paths := make([]string, len(local))
	for i, n := range local {
		paths[i] = "Projects/2024/Q3 reviews/" + n
	}
	b.ReportAllocs()
	iters := 0
	for b.Loop() {
		for _, p := range paths {
			if err := CheckPath(PathToServer(p), len("/sites/team/Shared Documents")); err != nil {
				b.Fatalf("CheckPath(%q): %v", p, err)
			}
		}
		iters++
	}
	reportPerName(b, iters)
}
