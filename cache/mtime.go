package cache

import (
	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// The kept mtimes of files uploaded from here (why and how:
// cache/internal/metadb/mtime.go), as the listing part asks for them.

// forgetMtimes drops the records of versions no longer on the server.
func (c *Cache) forgetMtimes(etags []string) {
	if err := metadb.ForgetMtimes(c.db, etags); err != nil {
		c.log.Warn("cannot forget the mtimes of replaced versions", "err", err)
	}
}

// applyMtimes shows the kept mtime on every file of kids whose version
// was uploaded from here.
func (c *Cache) applyMtimes(kids []remote.Entry) {
	if err := metadb.ApplyMtimes(c.db, kids); err != nil {
		c.log.Warn("cannot read the mtimes of files uploaded from here", "err", err)
	}
}
