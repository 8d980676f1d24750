package davclient

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/internal/testenv"
)

// apacheServer is an Apache httpd with mod_dav_fs started by a test on a
// loopback port, serving Dir at URL ("http://127.0.0.1:port/dav") behind
// basic auth.
type apacheServer struct {
	URL      string
	Dir      string // the DAV directory on disk
	User     string
	Password string
	errorLog string
}

const apacheModules = "/usr/lib/apache2/modules"

// startApache writes a config into t.TempDir, starts httpd in the
// foreground and waits until it answers. The server is stopped in Cleanup.
func startApache(t *testing.T) *apacheServer {
	t.Helper()
	bin := testenv.LookPath(t, "apache2")
	if _, err := os.Stat(filepath.Join(apacheModules, "mod_dav_fs.so")); err != nil {
		testenv.Missing(t, "Apache mod_dav_fs is not installed ("+apacheModules+")")
	}
	dir := t.TempDir()
	// Apache's children run as www-data when we are root: they must be able
	// to reach and write the DAV tree and the lock database.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &apacheServer{Dir: filepath.Join(dir, "www", "dav"), User: "odfbtest", Password: "pw-" + strconv.Itoa(os.Getpid()), errorLog: filepath.Join(dir, "error.log")}
	for _, d := range []string{s.Dir, filepath.Join(dir, "lock"), filepath.Join(dir, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha1.Sum([]byte(s.Password))
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(s.User+":{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runAs := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup("www-data")
		if err != nil {
			testenv.Missing(t, "user www-data (Debian's Apache user) does not exist")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{s.Dir, filepath.Join(dir, "lock")} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		runAs = "User www-data\nGroup www-data\n"
	}
	port := freePort(t)
	conf := fmt.Sprintf(`ServerRoot %[1]s
Listen 127.0.0.1:%[2]d
ServerName 127.0.0.1
PidFile %[1]s/run/httpd.pid
ErrorLog %[1]s/error.log
LogLevel warn
%[3]s
LoadModule mpm_event_module %[4]s/mod_mpm_event.so
LoadModule authn_core_module %[4]s/mod_authn_core.so
LoadModule authn_file_module %[4]s/mod_authn_file.so
LoadModule authz_core_module %[4]s/mod_authz_core.so
LoadModule authz_user_module %[4]s/mod_authz_user.so
LoadModule auth_basic_module %[4]s/mod_auth_basic.so
LoadModule dav_module %[4]s/mod_dav.so
LoadModule dav_fs_module %[4]s/mod_dav_fs.so
DocumentRoot %[1]s/www
DavLockDB %[1]s/lock/DavLock
Mutex file:%[1]s/run
StartServers 1
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory %[1]s/www/dav>
  Dav On
  AllowOverride None
  AuthType Basic
  AuthName "odfb test"
  AuthUserFile %[1]s/htpasswd
  Require valid-user
</Directory>
`, dir, port, runAs, apacheModules)
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", confPath, "-DFOREGROUND")
	cmd.Env = append(os.Environ(), "APACHE_RUN_DIR="+dir+"/run", "APACHE_LOCK_DIR="+dir+"/lock", "APACHE_LOG_DIR="+dir, "APACHE_PID_FILE="+dir+"/run/httpd.pid", "APACHE_RUN_USER=www-data", "APACHE_RUN_GROUP=www-data")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start apache: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM to the parent stops its children too.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	s.URL = fmt.Sprintf("http://127.0.0.1:%d/dav", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(s.errorLog)
			t.Fatalf("apache exited at start (%v):\n%s", err, log)
		default:
		}
		resp, err := http.Get(s.URL + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.errorLog)
			t.Fatalf("apache did not answer within 20s (last: %v):\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(s.errorLog)
			if len(log) > 4000 {
				log = log[len(log)-4000:]
			}
			t.Logf("apache error log (tail):\n%s", strings.TrimSpace(string(log)))
		}
	})
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
