//go:build linux

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// slowLink is a toxiproxy proxy on loopback in front of the test sshd,
// adding latency in user space (the kernel here has no netem).
type slowLink struct {
	port       int
	knownHosts string // the sshd's host key, under the proxy's port
	proxy      *toxiproxy.Proxy
}

// newSlowLink starts a proxy adding rttMillis of round-trip time (half in
// each direction). rttMillis 0 still proxies, so figures compare fairly.
func newSlowLink(tb testing.TB, rttMillis int) *slowLink {
	tb.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	p := toxiproxy.NewProxy(srv, fmt.Sprintf("sshd-%dms", rttMillis), "127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(server.port))
	if err := p.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Stop)
	if rttMillis > 0 {
		for _, stream := range []string{"upstream", "downstream"} {
			toxic := fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`, stream, stream, rttMillis/2)
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	_, portStr, _ := net.SplitHostPort(p.Listen)
	l := &slowLink{proxy: p}
	l.port, _ = strconv.Atoi(portStr)
	l.knownHosts = filepath.Join(tb.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", l.port, server.hostKeyPub)
	if err := os.WriteFile(l.knownHosts, []byte(line), 0644); err != nil {
		tb.Fatal(err)
	}
	return l
}

// args are the options to mount through the link.
func (l *slowLink) args() []string {
	return []string{"-p", strconv.Itoa(l.port), "-o", "IdentityFile=" + server.userKey + ",UserKnownHostsFile=" + l.knownHosts}
}

// blackhole makes the link swallow everything in both directions while
// keeping connections open: a dead network, not a refused one.
func (l *slowLink) blackhole(tb testing.TB) {
	tb.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		toxic := fmt.Sprintf(`{"name":"blackhole_%s","type":"timeout","stream":%q,"attributes":{"timeout":0}}`, stream, stream)
		if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			tb.Fatal(err)
		}
	}
}

// restore ends a blackhole.
func (l *slowLink) restore(tb testing.TB) {
	tb.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		if err := l.proxy.Toxics.RemoveToxic(context.Background(), "blackhole_"+stream); err != nil {
			tb.Fatal(err)
		}
	}
}

// reset cuts every connection through the link, as a router reboot does,
// and takes new ones at once.
func (l *slowLink) reset(tb testing.TB) {
	tb.Helper()
	l.proxy.Stop()
	// The port can take a moment to be free again (EADDRINUSE).
	var err error
	for try := 0; try < 50; try++ {
		if err = l.proxy.Start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Errorf("restarting the proxy: %v", err)
}
