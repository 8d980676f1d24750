package davclient

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest/contract"
	"github.com/odfb/odfb/spemu"
)

// The remote contract (remote/remotetest/contract) against the two
// servers davclient is written for. Each Connect is a new Client, as a
// restarted process would make.

func TestContractSpemu(t *testing.T) {
	contract.Run(t, contract.Options{
		NewServer: func(t *testing.T) contract.Server {
			srv, tg := startSpemu(t, spemu.Config{})
			return contract.Server{
				Connect:       func() remote.Remote { return newTestClient(t, tg) },
				ReadFile:      srv.ReadFile,
				ExpireUploads: srv.ExpireUploadSessions,
			}
		},
		Chunked:         true,
		CaseInsensitive: true,
		PutETag:         true,
	})
}

func TestContractApache(t *testing.T) {
	contract.Run(t, contract.Options{
		NewServer: func(t *testing.T) contract.Server {
			s := startApache(t)
			tg := target{name: "apache", url: s.URL, auth: auth.Basic(s.User, s.Password)}
			return contract.Server{
				Connect: func() remote.Remote { return newTestClient(t, tg) },
				ReadFile: func(p string) ([]byte, error) {
					return os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(remote.Clean(p))))
				},
			}
		},
		// mod_dav_fs: no REST API, names as the disk keeps them, no ETag
		// in the answer to PUT.
		Chunked:         false,
		CaseInsensitive: false,
		PutETag:         false,
		KnownFailures: map[string]string{
			"Move/MissingParent": "mod_dav_fs answers MOVE into a missing folder with 500 (rename: ENOENT), " +
				"which davclient retries as a server error and reports as ErrServer, not ErrConflict",
		},
	})
}
