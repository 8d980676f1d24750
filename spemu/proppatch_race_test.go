package spemu_test

import (
	"fmt"
	"sync"
	"testing"
)

// TestProppatchWhilePropfind: PROPPATCH replaced the dead properties of
// an item in place while a PROPFIND read them without the store's lock,
// a data race found by matrix.TestMatrixLoad under -race. Both at once,
// many times, must be race-free and each PROPFIND must see a whole value.
func TestProppatchWhilePropfind(t *testing.T) {
	s := start(t, nil)
	u := s.LibraryURL() + "/f.txt"
	do(t, "PUT", u, []byte("x"))
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				body := fmt.Sprintf(`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Mon, 0%d Jan 2024 00:00:00 GMT</Z:Win32LastModifiedTime></D:prop></D:set></D:propertyupdate>`, 1+i%9)
				do(t, "PROPPATCH", u, []byte(body), "Content-Type", "text/xml")
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_, doc := propfind(t, u, "0", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`)
				if doc == nil {
					t.Error("PROPFIND answered no multistatus")
					return
				}
			}
		}()
	}
	wg.Wait()
}
