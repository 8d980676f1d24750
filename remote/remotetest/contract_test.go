package remotetest

import (
	"testing"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest/contract"
)

// fakeServer is a fresh Fake; it is its own server, so every Connect
// returns it.
func fakeServer(chunked bool) func(t *testing.T) contract.Server {
	return func(t *testing.T) contract.Server {
		f := New()
		f.SetChunked(chunked)
		return contract.Server{Connect: func() remote.Remote { return f }, ReadFile: f.ReadFile, ExpireUploads: f.ExpireUploads}
	}
}

func TestFakeContract(t *testing.T) {
	contract.Run(t, contract.Options{NewServer: fakeServer(true), Chunked: true, CaseInsensitive: true, PutETag: true})
}

// TestFakeContractNoChunks holds the fake with chunked uploads off to
// the fallback half of the contract (ErrNotSupported, nothing written).
func TestFakeContractNoChunks(t *testing.T) {
	contract.Run(t, contract.Options{NewServer: fakeServer(false), CaseInsensitive: true, PutETag: true})
}
