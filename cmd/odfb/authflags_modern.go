package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/odfb/odfb/davclient/auth"
)

// modernAuthFlags are the flags of the login strategies (OAuth device
// code, legacy SAML, bearer command). authflags.go registers the simple
// ones (--auth, --cookie-file, --cookie-command, --username,
// --password-file) and calls addModernAuthFlags for these.
type modernAuthFlags struct {
	stsURL        *string
	authority     *string
	clientID      *string
	tenant        *string
	credentials   *string
	bearerCommand *string
	bearerOnDAV   *bool
}

// addModernAuthFlags registers the flags on fs.
func addModernAuthFlags(fs *flag.FlagSet) *modernAuthFlags {
	return &modernAuthFlags{
		stsURL:        fs.String("sts-url", "", "legacy SAML: security token service URL (default: extSTS.srf of the library's cloud, e.g. "+auth.DefaultSTSURL+")"),
		authority:     fs.String("authority", "", "OAuth: authority URL (default from the library's host: "+auth.DefaultAuthority+"; *.sharepoint.us and *.sharepoint-mil.us: "+auth.AuthorityUSGov+"; *.sharepoint.cn: "+auth.AuthorityChina+"; or spemu in tests)"),
		clientID:      fs.String("client-id", auth.DefaultClientID, "OAuth: public client id (your organisation's app registration, if it requires one)"),
		tenant:        fs.String("tenant", auth.DefaultTenant, "OAuth: tenant (organizations, a domain such as contoso.onmicrosoft.com, or a tenant id)"),
		credentials:   fs.String("credentials", "", "OAuth: credentials file written by odfb login (default "+auth.DefaultCredentialsPath()+")"),
		bearerCommand: fs.String("bearer-command", "", "command that prints an OAuth access token for the SharePoint host (run again when the server refuses it)"),
		bearerOnDAV:   fs.Bool("bearer-on-dav", false, "send the access token as Authorization: Bearer on every request instead of exchanging it for a SharePoint cookie"),
	}
}

// apply copies the flags into o.
func (m *modernAuthFlags) apply(o *auth.Options) {
	o.STSURL = *m.stsURL
	o.Authority = *m.authority
	o.ClientID = *m.clientID
	o.Tenant = *m.tenant
	o.Credentials = *m.credentials
	o.BearerCommand = *m.bearerCommand
	o.BearerOnDAV = *m.bearerOnDAV
}

// modernPasswordSource returns where the SAML (or basic) password comes
// from, in this order: the password file (0600, owned by the user, read
// at every login so a corrected file is picked up), the ODFB_PASSWORD
// environment variable, or one prompt on the terminal (remembered for the
// life of the process). Never a command-line value.
func modernPasswordSource(passwordFile, username string) func(context.Context) (string, error) {
	if passwordFile != "" {
		return auth.PasswordFile(passwordFile)
	}
	if v, ok := os.LookupEnv("ODFB_PASSWORD"); ok && v != "" {
		return auth.PasswordEnv("ODFB_PASSWORD")
	}
	var once sync.Once
	var pw string
	var perr error
	return func(context.Context) (string, error) {
		once.Do(func() { pw, perr = promptPassword(fmt.Sprintf("Password for %s: ", username)) })
		return pw, perr
	}
}

// promptPassword reads a line from the terminal on stdin with echo off.
func promptPassword(prompt string) (string, error) {
	fd := int(os.Stdin.Fd())
	var old syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&old))); e != 0 {
		return "", errors.New("no password: give --password-file or ODFB_PASSWORD (stdin is not a terminal to prompt on)")
	}
	noEcho := old
	noEcho.Lflag &^= syscall.ECHO
	noEcho.Lflag |= syscall.ICANON | syscall.ISIG
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCSETS, uintptr(unsafe.Pointer(&noEcho))); e != 0 {
		return "", fmt.Errorf("prompt: cannot turn off echo: %v", e)
	}
	defer syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCSETS, uintptr(unsafe.Pointer(&old)))
	fmt.Fprint(os.Stderr, prompt)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Fprintln(os.Stderr)
	if err != nil && line == "" {
		return "", fmt.Errorf("prompt: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("prompt: empty password")
	}
	return line, nil
}
