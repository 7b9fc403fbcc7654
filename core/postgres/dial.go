package postgres

import (
	"net"
	"syscall"
	"time"
)

// tcpDialer dials database connections with keepalives every tcp and, where the system has
// it, TCP_USER_TIMEOUT of tcp: the kernel gives up on a connection whose peer stops
// acknowledging what was sent, instead of retransmitting for minutes.
func tcpDialer(connect, tcp time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout:         connect,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: tcp, Interval: tcp, Count: 2},
		Control: func(network, _ string, c syscall.RawConn) error {
			if network != "tcp" && network != "tcp4" && network != "tcp6" {
				return nil
			}
			var serr error
			err := c.Control(func(fd uintptr) { serr = setUserTimeout(fd, tcp) })
			if err != nil {
				return err
			}
			return serr
		},
	}
}
