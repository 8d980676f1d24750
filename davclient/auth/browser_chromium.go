package auth

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Chromium's cookie encryption on Linux (from Chromium's documented
// os_crypt design): a value starting "v10" is AES-128-CBC under a key
// derived from the fixed password "peanuts"; "v11" under a key derived
// from a password kept in the Secret Service (GNOME keyring, KWallet's
// Secret Service bridge). Key: PBKDF2-HMAC-SHA1(password, "saltysalt",
// 1 iteration, 16 bytes); IV: 16 spaces; PKCS#7 padding. Since cookie
// database version 24 the plaintext starts with SHA-256 of the cookie's
// host_key.

const chromiumFallbackPassword = "peanuts"

// chromiumKey derives the AES key from password.
func chromiumKey(password string) ([]byte, error) {
	return pbkdf2.Key(sha1.New, password, []byte("saltysalt"), 1, 16)
}

// chromiumDecrypt decrypts one encrypted_value with key.
func chromiumDecrypt(enc, key []byte) ([]byte, error) {
	if len(enc) < 3 {
		return nil, errors.New("encrypted value too short")
	}
	ct := enc[3:]
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, errors.New("encrypted value is not whole AES blocks")
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	iv := bytes.Repeat([]byte{' '}, aes.BlockSize)
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > aes.BlockSize || n > len(pt) {
		return nil, errors.New("wrong key (bad padding)")
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return nil, errors.New("wrong key (bad padding)")
		}
	}
	return pt[:len(pt)-n], nil
}

// secretToolKey asks the Secret Service for Chromium's password with
// libsecret's secret-tool (application "chromium", or "chrome").
func secretToolKey(ctx context.Context, browser string) (string, error) {
	app := "chromium"
	if browser == "chrome" {
		app = "chrome"
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "secret-tool", "lookup", "application", app).Output()
	if err != nil {
		return "", fmt.Errorf("secret-tool lookup application %s: %w (install libsecret-tools, and unlock the keyring)", app, err)
	}
	pw := strings.TrimRight(string(out), "\n")
	if pw == "" {
		return "", fmt.Errorf("the Secret Service holds no password for %s", app)
	}
	return pw, nil
}

// readChromiumCookies reads the SharePoint session cookies of Chromium's
// cookies table, decrypting them.
func readChromiumCookies(ctx context.Context, db, browser string, secret func(context.Context, string) (string, error)) ([]browserCookie, error) {
	type row struct {
		host, name, value string
		enc               []byte
		expires           int64
	}
	var rows []row
	version := 0
	err := querySQLite(db, func(h *sql.DB) error {
		var v string
		if h.QueryRow(`SELECT value FROM meta WHERE key = 'version'`).Scan(&v) == nil {
			version, _ = strconv.Atoi(v)
		}
		rs, err := h.Query(`SELECT host_key, name, value, encrypted_value, expires_utc FROM cookies WHERE name IN ('FedAuth', 'rtFa', 'SPOIDCRL')`)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.host, &r.name, &r.value, &r.enc, &r.expires); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		return rs.Err()
	})
	if err != nil {
		return nil, err
	}
	var v10, v11 []byte
	var v11Err error
	out := make([]browserCookie, 0, len(rows))
	for _, r := range rows {
		c := browserCookie{domain: r.host, name: r.name, value: r.value}
		if r.expires > 0 {
			// microseconds since 1601-01-01 UTC
			c.expires = time.Unix(r.expires/1e6-11644473600, (r.expires%1e6)*1000)
		}
		if len(r.enc) > 0 {
			var key []byte
			switch {
			case bytes.HasPrefix(r.enc, []byte("v10")):
				if v10 == nil {
					if v10, err = chromiumKey(chromiumFallbackPassword); err != nil {
						return nil, err
					}
				}
				key = v10
			case bytes.HasPrefix(r.enc, []byte("v11")):
				if v11 == nil && v11Err == nil {
					pw, err := secret(ctx, browser)
					if err != nil {
						v11Err = err
					} else if v11, err = chromiumKey(pw); err != nil {
						return nil, err
					}
				}
				if v11Err != nil {
					return nil, fmt.Errorf("the cookies are encrypted with the key in the Secret Service: %w", v11Err)
				}
				key = v11
			default:
				return nil, fmt.Errorf("cookie %s of %s: unknown encryption %q", r.name, r.host, r.enc[:min(3, len(r.enc))])
			}
			pt, err := chromiumDecrypt(r.enc, key)
			if err != nil {
				return nil, fmt.Errorf("cookie %s of %s: %w", r.name, r.host, err)
			}
			if version >= 24 {
				sum := sha256.Sum256([]byte(r.host))
				if len(pt) < len(sum) || !bytes.Equal(pt[:len(sum)], sum[:]) {
					return nil, fmt.Errorf("cookie %s of %s: the decrypted value does not start with its host's digest", r.name, r.host)
				}
				pt = pt[len(sum):]
			}
			c.value = string(pt)
		}
		out = append(out, c)
	}
	return out, nil
}
