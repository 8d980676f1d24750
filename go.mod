module github.com/odfb/odfb

go 1.26.8

require (
	github.com/beevik/etree v1.8.1 // indirect
	github.com/hanwen/go-fuse/v2 v2.12.1 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/oauth2 v0.37.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
