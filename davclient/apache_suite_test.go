package davclient

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
)

func TestVerbsApache(t *testing.T) {
	s := startApache(t)
	runVerbSuite(t, target{
		name: "apache",
		url:  s.URL,
		auth: auth.Basic(s.User, s.Password),
		read: func(p string) ([]byte, error) {
			return os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(remote.Clean(p))))
		},
	})
}

func basicFor(s *apacheServer) auth.Authenticator { return auth.Basic(s.User, s.Password) }
