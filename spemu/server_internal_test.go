package spemu

import "testing"

func TestExtStateAndOnClose(t *testing.T) {
	s, err := New(Config{Auth: "none"})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{}
	n := 0
	a := s.extState(key{}, func() any { n++; return &n })
	b := s.extState(key{}, func() any { n++; return &n })
	if a != b || n != 1 {
		t.Errorf("extState created %d times", n)
	}
	closed := 0
	s.onClose(func() { closed++ })
	s.Close()
	s.Close()
	if closed != 1 {
		t.Errorf("onClose ran %d times", closed)
	}
}

func TestParseIf(t *testing.T) {
	lists, err := parseIf(`<http://h/p> (<opaquelocktoken:a> ["{X},1"]) (Not <DAV:no-lock>)`)
	if err != nil || len(lists) != 2 || lists[0].resource != "http://h/p" || lists[1].resource != "http://h/p" ||
		lists[0].conds[0].token != "opaquelocktoken:a" || lists[0].conds[1].etag != `"{X},1"` || !lists[1].conds[0].not {
		t.Errorf("parseIf: %+v %v", lists, err)
	}
	for _, bad := range []string{"(", "()", "(<a>", "x", "([x)"} {
		if _, err := parseIf(bad); err == nil {
			t.Errorf("parseIf(%q) accepted", bad)
		}
	}
}

func TestSplitETags(t *testing.T) {
	got := splitETags(`"{A},1", W/"{B},2" ,*`)
	if len(got) != 3 || got[0] != `"{A},1"` || got[1] != `W/"{B},2"` || got[2] != "*" {
		t.Errorf("splitETags: %q", got)
	}
}

// FuzzParseIf: the If header parser never panics and what it accepts has
// a condition in every list.
func FuzzParseIf(f *testing.F) {
	for _, s := range []string{`(<opaquelocktoken:a>)`, `<http://h/p> (Not <DAV:no-lock> ["x"])`, `(["{A},1"]) (<b>)`, `(`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		lists, err := parseIf(h)
		if err != nil {
			return
		}
		for _, l := range lists {
			if len(l.conds) == 0 {
				t.Fatalf("empty list accepted from %q", h)
			}
		}
	})
}
