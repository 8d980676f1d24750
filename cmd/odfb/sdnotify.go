package main

import (
	"net"
	"os"
)

// sdNotify sends state (such as "READY=1" or "STOPPING=1") to the
// service manager when odfb runs as a systemd Type=notify service: the
// datagram socket named by $NOTIFY_SOCKET (a path, or "@name" for the
// abstract namespace, which net handles). Without $NOTIFY_SOCKET it does
// nothing. Errors are returned for logging only; the mount never fails
// because the manager could not be told.
func sdNotify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
