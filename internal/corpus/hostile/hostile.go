// Package hostile writes a small capture whose decoded text carries HTML
// and script injection payloads and bytes that are not UTF-8: HTTP request
// targets, Host, User-Agent and other headers, response headers, a DNS
// question name and a TLS SNI. Tests replay it into a center and check that
// no view of that text (web UI, terminal) interprets it. It is generated
// at test time so that no binary file needs to be committed.
package hostile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Marker is the global every script payload sets: a page that ran one
// has window.__xss defined.
const Marker = "__xss"

// The payloads. Each would run script (set window.__xss) if a page parsed
// it as HTML or followed it as a URL.
const (
	ScriptTag   = `<script>window.__xss=1</script>`
	ImgOnerror  = `<img src=x onerror="window.__xss=1">`
	SVGBreakout = `"><svg onload=window.__xss=1>`
	JSURL       = `javascript:window.__xss=1`
	// PathImg is an onerror payload without spaces, so that it fits in a
	// request target and a DNS label (dig-style escaping leaves it alone).
	PathImg = `<img/src/onerror=__xss=1>`
	// PathSVG is SVGBreakout without spaces, for a request target.
	PathSVG = `"><svg/onload=window.__xss=1>`
)

// Addresses and ports of the conversations.
var (
	Client    = net.IPv4(10, 66, 0, 10).To4()
	WebServer = net.IPv4(10, 66, 0, 80).To4()
	DNSServer = net.IPv4(10, 66, 0, 53).To4()
	TLSServer = net.IPv4(10, 66, 0, 43).To4()
)

// Start is the time of the first packet.
var Start = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// Exchange is one HTTP/1.1 request and its response, on a connection of
// its own.
type Exchange struct {
	Method, Target string
	// RequestHeaders and ResponseHeaders are header lines, in order,
	// without line ends.
	RequestHeaders  []string
	Status          int
	ResponseHeaders []string
	Body            string
}

// HTTP is every HTTP exchange the capture holds. The raw bytes are as
// sent: "\xe9" here is one byte, which the probe's records show as the
// four characters \xe9.
var HTTP = []Exchange{
	{
		Method: "GET", Target: "/" + ScriptTag,
		RequestHeaders: []string{
			"Host: " + ScriptTag,
			"User-Agent: " + ImgOnerror,
			"Referer: " + JSURL,
			"X-Payload: " + SVGBreakout,
		},
		Status: 404,
		ResponseHeaders: []string{
			"Server: " + ImgOnerror,
			"Content-Type: text/html" + SVGBreakout,
			"Content-Length: 0",
		},
	},
	{
		Method: "GET", Target: "/" + PathSVG,
		RequestHeaders: []string{
			"Host: " + SVGBreakout,
			"User-Agent: " + ScriptTag,
		},
		Status:          200,
		ResponseHeaders: []string{"Content-Type: text/plain", "Content-Length: 2"},
		Body:            "ok",
	},
	{
		Method: "POST", Target: "/" + JSURL,
		RequestHeaders: []string{
			"Host: " + JSURL,
			"User-Agent: " + SVGBreakout,
			"Content-Length: 0",
		},
		Status: 500,
		ResponseHeaders: []string{
			"Location: " + JSURL,
			"Content-Length: 0",
		},
	},
	{
		Method: "GET", Target: "/caf\xe9/\xff\xfe" + PathImg,
		RequestHeaders: []string{
			"Host: bin\xff.hostile.test",
			"User-Agent: \xc3\x28" + ImgOnerror,
		},
		Status:          200,
		ResponseHeaders: []string{"X-Bin: \xfe\xff" + ScriptTag, "Content-Length: 0"},
	},
	{
		Method: "GET", Target: "/" + PathImg,
		RequestHeaders: []string{"Host: " + PathImg, "User-Agent: curl/8.0"},
		Status:         302,
		ResponseHeaders: []string{
			"Location: " + JSURL,
			"Content-Length: 0",
		},
	},
}

// DNSName is the question name of the DNS query (it has an NXDOMAIN
// answer). The probe lower-cases it and escapes it like dig, which leaves
// this one as it is.
const DNSName = PathImg + ".hostile.test"

// SNI is the server name of the TLS ClientHello.
const SNI = ImgOnerror

// WriteFile writes the capture (pcap, Ethernet) to path.
func WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write writes the capture to w.
func Write(w io.Writer) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	g := &gen{w: pw, now: Start}
	port := uint16(40000)
	for _, ex := range HTTP {
		port++
		g.tcpExchange(Client, WebServer, port, 80, ex.request(), ex.response())
	}
	port++
	g.dns(port)
	port++
	g.tcpExchange(Client, TLSServer, port, 443, clientHello(SNI), serverHello())
	return g.err
}

func (ex Exchange) request() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", ex.Method, ex.Target)
	for _, h := range ex.RequestHeaders {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func (ex Exchange) response() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", ex.Status, reason(ex.Status))
	for _, h := range ex.ResponseHeaders {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + ex.Body)
	return b.Bytes()
}

func reason(code int) string {
	switch code {
	case 200:
		return "OK"
	case 302:
		return "Found"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	}
	return "Status"
}

type gen struct {
	w   *pcapgo.Writer
	now time.Time
	err error
}

var (
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	serverMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x50}
)

// packet writes one frame dt after the previous one.
func (g *gen) packet(dt time.Duration, src, dst net.IP, l4 gopacket.SerializableLayer, payload []byte) {
	if g.err != nil {
		return
	}
	g.now = g.now.Add(dt)
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeIPv4}
	if src.Equal(Client) {
		eth.SrcMAC, eth.DstMAC = clientMAC, serverMAC
	} else {
		eth.SrcMAC, eth.DstMAC = serverMAC, clientMAC
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: src, DstIP: dst}
	switch l := l4.(type) {
	case *layers.TCP:
		ip.Protocol = layers.IPProtocolTCP
		g.err = l.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		ip.Protocol = layers.IPProtocolUDP
		g.err = l.SetNetworkLayerForChecksum(ip)
	}
	if g.err != nil {
		return
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if g.err = gopacket.SerializeLayers(buf, opts, eth, ip, l4, gopacket.Payload(payload)); g.err != nil {
		return
	}
	data := buf.Bytes()
	g.err = g.w.WritePacket(gopacket.CaptureInfo{Timestamp: g.now, CaptureLength: len(data), Length: len(data)}, data)
}

// tcpExchange writes a whole connection: handshake, the request, its
// response (in segments of at most 1400 bytes), and a FIN each way.
func (g *gen) tcpExchange(c, s net.IP, cport, sport uint16, req, resp []byte) {
	cseq, sseq := uint32(1000), uint32(500000)
	seg := func(dt time.Duration, fromClient bool, syn, ack, fin bool, data []byte) {
		t := &layers.TCP{SYN: syn, ACK: ack, FIN: fin, PSH: len(data) > 0, Window: 65535}
		src, dst := c, s
		if fromClient {
			t.SrcPort, t.DstPort, t.Seq = layers.TCPPort(cport), layers.TCPPort(sport), cseq
			if ack {
				t.Ack = sseq
			}
		} else {
			t.SrcPort, t.DstPort, t.Seq = layers.TCPPort(sport), layers.TCPPort(cport), sseq
			src, dst = s, c
			if ack {
				t.Ack = cseq
			}
		}
		g.packet(dt, src, dst, t, data)
		n := uint32(len(data))
		if syn || fin {
			n++
		}
		if fromClient {
			cseq += n
		} else {
			sseq += n
		}
	}
	ms := time.Millisecond
	seg(50*ms, true, true, false, false, nil)
	seg(ms, false, true, true, false, nil)
	seg(ms, true, false, true, false, nil)
	seg(ms, true, false, true, false, req)
	seg(ms, false, false, true, false, nil)
	for i, first := 0, true; i < len(resp); i += 1400 {
		dt := 100 * time.Microsecond
		if first {
			dt, first = 7*ms, false
		}
		seg(dt, false, false, true, false, resp[i:min(i+1400, len(resp))])
	}
	seg(ms, true, false, true, false, nil)
	seg(ms, true, false, true, true, nil)
	seg(ms, false, false, true, true, nil)
	seg(ms, true, false, true, false, nil)
}

func (g *gen) dns(cport uint16) {
	q := dnsMessage(0x1234, false)
	r := dnsMessage(0x1234, true)
	g.packet(50*time.Millisecond, Client, DNSServer, &layers.UDP{SrcPort: layers.UDPPort(cport), DstPort: 53}, q)
	g.packet(3*time.Millisecond, DNSServer, Client, &layers.UDP{SrcPort: 53, DstPort: layers.UDPPort(cport)}, r)
}

// dnsMessage builds a query for DNSName (type A, class IN) or its NXDOMAIN
// response, byte by byte (RFC 1035 §4.1), so that the labels carry bytes
// a DNS library would refuse to encode.
func dnsMessage(id uint16, response bool) []byte {
	var b []byte
	flags := uint16(0x0100) // RD
	if response {
		flags = 0x8183 // QR, RD, RA, NXDOMAIN
	}
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, 1) // QDCOUNT
	b = append(b, 0, 0, 0, 0, 0, 0)         // AN, NS, AR
	start := 0
	for i := 0; i <= len(DNSName); i++ {
		if i == len(DNSName) || DNSName[i] == '.' {
			b = append(b, byte(i-start))
			b = append(b, DNSName[start:i]...)
			start = i + 1
		}
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, 1) // A
	b = binary.BigEndian.AppendUint16(b, 1) // IN
	return b
}

// clientHello is a TLS 1.2 ClientHello record with a server_name
// extension (RFC 8446 §4.1.2, RFC 6066 §3).
func clientHello(sni string) []byte {
	var body []byte
	body = append(body, 3, 3)                      // client_version
	body = append(body, make([]byte, 32)...)       // random
	body = append(body, 0)                         // session id
	body = append(body, 0, 4, 0xc0, 0x2f, 0, 0x9c) // cipher suites
	body = append(body, 1, 0)                      // compression: null
	var ext []byte
	name := []byte(sni)
	var sn []byte
	sn = binary.BigEndian.AppendUint16(sn, uint16(len(name)+3))
	sn = append(sn, 0) // host_name
	sn = binary.BigEndian.AppendUint16(sn, uint16(len(name)))
	sn = append(sn, name...)
	ext = binary.BigEndian.AppendUint16(ext, 0) // server_name
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sn)))
	ext = append(ext, sn...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return handshakeRecord(1, body)
}

// serverHello is the matching TLS 1.2 ServerHello.
func serverHello() []byte {
	var body []byte
	body = append(body, 3, 3)
	body = append(body, make([]byte, 32)...)
	body = append(body, 0)
	body = append(body, 0xc0, 0x2f)
	body = append(body, 0)
	body = append(body, 0, 0) // no extensions
	return handshakeRecord(2, body)
}

func handshakeRecord(typ byte, body []byte) []byte {
	hs := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 3, 1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(hs)))
	return append(rec, hs...)
}
