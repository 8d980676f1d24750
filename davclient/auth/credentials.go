package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// The credentials file holds what `odfb login` obtained: per SharePoint
// host and OAuth client id, the refresh token (the only secret in it) and
// the authority and tenant it came from. It is JSON, mode 0600 in a 0700
// directory, written atomically (temporary file, fsync, rename, fsync of
// the directory) and refused when group or others may read it or it
// belongs to another user. Every process that uses it takes an exclusive
// flock on "<file>.lock" around read-modify-write, so two mounts sharing a
// login never lose a rolled refresh token.

// CredentialsVersion is the format version written to the file.
const CredentialsVersion = 1

// CredentialsEntry is one stored login.
type CredentialsEntry struct {
	Host         string    `json:"host"` // SharePoint host[:port], lower case
	ClientID     string    `json:"client_id"`
	Authority    string    `json:"authority"`
	Tenant       string    `json:"tenant"`
	Account      string    `json:"account,omitempty"` // for display only, from the id token when present
	RefreshToken string    `json:"refresh_token"`
	Updated      time.Time `json:"updated"`
}

type credentialsDoc struct {
	Version int                `json:"version"`
	Entries []CredentialsEntry `json:"entries"`
}

// DefaultCredentialsPath is where `odfb login` stores logins when
// --credentials is not given: /etc/odfb/credentials.json for root (so
// fstab and systemd mounts, which run as root without a login session,
// find the login made with `sudo odfb login`), otherwise
// $XDG_CONFIG_HOME/odfb/credentials.json, falling back to
// ~/.config/odfb/credentials.json.
func DefaultCredentialsPath() string {
	if os.Geteuid() == 0 {
		return "/etc/odfb/credentials.json"
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "odfb", "credentials.json")
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".config", "odfb", "credentials.json")
	}
	return filepath.Join(".config", "odfb", "credentials.json")
}

// ErrNoLogin is wrapped by errors that mean "no stored login for this
// host": the user must run `odfb login`.
var ErrNoLogin = errors.New("no stored login")

// CheckPrivateFile returns an error unless path is a regular file owned by
// the current user that neither group nor others can read or write. Secret
// files (credentials, password files) go through it before being read.
func CheckPrivateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s: mode %04o lets other users read or change a secret; run chmod 600 %s", path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, not by the user running odfb (uid %d)", path, st.Uid, os.Geteuid())
	}
	return nil
}

// CredentialsStore reads and writes one credentials file.
type CredentialsStore struct {
	Path string
}

func credKey(host, clientID string) string { return normHost(host) + "\x00" + clientID }

// lock takes the file's companion flock; the returned function releases it.
func (s CredentialsStore) lock(create bool) (func(), error) {
	if create {
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
			return nil, fmt.Errorf("credentials directory: %w", err)
		}
	}
	f, err := os.OpenFile(s.Path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if !create && errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("credentials lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("credentials lock %s: %w", f.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func (s CredentialsStore) read() (credentialsDoc, error) {
	var doc credentialsDoc
	if err := CheckPrivateFile(s.Path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return doc, nil
		}
		return doc, fmt.Errorf("credentials file refused: %w", err)
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return doc, fmt.Errorf("credentials file: %w", err)
	}
	if len(b) == 0 {
		return doc, nil
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		// json's syntax errors quote no input, so no secret leaks here.
		return doc, fmt.Errorf("credentials file %s is not valid JSON (%v); run `odfb login` to write it again", s.Path, err)
	}
	if doc.Version > CredentialsVersion {
		return doc, fmt.Errorf("credentials file %s has format version %d, newer than this odfb understands (%d)", s.Path, doc.Version, CredentialsVersion)
	}
	return doc, nil
}

// write replaces the file atomically: temp file in the same directory,
// fsync, rename, fsync of the directory.
func (s CredentialsStore) write(doc credentialsDoc) error {
	doc.Version = CredentialsVersion
	sort.Slice(doc.Entries, func(i, j int) bool {
		return credKey(doc.Entries[i].Host, doc.Entries[i].ClientID) < credKey(doc.Entries[j].Host, doc.Entries[j].ClientID)
	})
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credentials directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.Path)+".tmp*")
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("credentials file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("credentials file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("credentials file %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Get returns the stored login for host and clientID; the error wraps
// ErrNoLogin when there is none.
func (s CredentialsStore) Get(host, clientID string) (CredentialsEntry, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return CredentialsEntry{}, err
	}
	defer unlock()
	return s.getLocked(host, clientID)
}

func (s CredentialsStore) getLocked(host, clientID string) (CredentialsEntry, error) {
	doc, err := s.read()
	if err != nil {
		return CredentialsEntry{}, err
	}
	k := credKey(host, clientID)
	for _, e := range doc.Entries {
		if credKey(e.Host, e.ClientID) == k {
			return e, nil
		}
	}
	return CredentialsEntry{}, fmt.Errorf("%w for %s (client id %s) in %s", ErrNoLogin, normHost(host), clientID, s.Path)
}

// HasHost reports whether the file holds a login for host with any
// client id. A missing file is no error; an unreadable or unsafe one is.
func (s CredentialsStore) HasHost(host string) (bool, error) {
	doc, err := s.read()
	if err != nil {
		return false, err
	}
	for _, e := range doc.Entries {
		if normHost(e.Host) == normHost(host) {
			return true, nil
		}
	}
	return false, nil
}

// onlyEntryFor returns the host's login when exactly one is stored.
func (s CredentialsStore) onlyEntryFor(host string) (CredentialsEntry, bool) {
	doc, err := s.read()
	if err != nil {
		return CredentialsEntry{}, false
	}
	var found []CredentialsEntry
	for _, e := range doc.Entries {
		if normHost(e.Host) == normHost(host) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		return CredentialsEntry{}, false
	}
	return found[0], true
}

// Put stores e, replacing the entry for the same host and client id.
func (s CredentialsStore) Put(e CredentialsEntry) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	return s.putLocked(e)
}

func (s CredentialsStore) putLocked(e CredentialsEntry) error {
	doc, err := s.read()
	if err != nil {
		return err
	}
	e.Host = normHost(e.Host)
	if e.Updated.IsZero() {
		e.Updated = time.Now().UTC()
	}
	k := credKey(e.Host, e.ClientID)
	out := doc.Entries[:0]
	for _, old := range doc.Entries {
		if credKey(old.Host, old.ClientID) != k {
			out = append(out, old)
		}
	}
	doc.Entries = append(out, e)
	return s.write(doc)
}

// Update runs fn on the entry for host and clientID while holding the
// file's lock and stores what fn returns: the read-refresh-write cycle of
// a rolling refresh token. If fn fails nothing is written.
func (s CredentialsStore) Update(host, clientID string, fn func(CredentialsEntry) (CredentialsEntry, error)) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	e, err := s.getLocked(host, clientID)
	if err != nil {
		return err
	}
	ne, err := fn(e)
	if err != nil {
		return err
	}
	ne.Updated = time.Now().UTC()
	return s.putLocked(ne)
}

// Delete removes the login for host and clientID (`odfb logout`).
func (s CredentialsStore) Delete(host, clientID string) error {
	unlock, err := s.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	doc, err := s.read()
	if err != nil {
		return err
	}
	k := credKey(host, clientID)
	out := doc.Entries[:0]
	for _, e := range doc.Entries {
		if credKey(e.Host, e.ClientID) != k {
			out = append(out, e)
		}
	}
	doc.Entries = out
	return s.write(doc)
}
