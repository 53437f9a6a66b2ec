package detect

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
)

// sample is one message (the first bytes of a direction) and what a
// detector must answer for it.
type sample struct {
	name  string
	proto *l7.Protocol
	b     []byte
	dir   flow.Dir
	port  uint16
	want  l7.Verdict
}

// Messages copied from captures (the source is named) or built from the
// protocol's specification.
var samples = []sample{
	// SSH (ipoib.pcap's client banner; RFC 4253 section 5.1 for 1.99).
	{"ssh client banner", SSH, []byte("SSH-2.0-OpenSSH_7.5 FIPS\r\n"), c2s, 22, l7.Yes},
	{"ssh server 1.99", SSH, []byte("SSH-1.99-Cisco-1.25\r\n"), s2c, 22, l7.Yes},
	{"ssh off port", SSH, []byte("SSH-2.0-dropbear\r\n"), s2c, 2222, l7.Yes},
	{"ssh version 3", SSH, []byte("SSH-3.0-x\r\n"), s2c, 22, l7.No},
	{"ssh version 2.1", SSH, []byte("SSH-2.1-x\r\n"), s2c, 22, l7.No},
	{"ssh major 10", SSH, []byte("SSH-10.0-x\r\n"), s2c, 22, l7.No},
	{"not ssh", SSH, []byte("SSX-2.0-x\r\n"), s2c, 22, l7.No},
	// client-keep-alive.pcap: mid-session packet with a clear length
	// (16) and a 16-byte tag.
	{"ssh mid-session", SSH, h("00000010f2264584c4a6955fd7da10d4bc6c701caa80f96ef0b9777982220f7e1ec636f9"), c2s, 22, l7.Maybe},
	{"ssh mid-session off port", SSH, h("00000010f2264584c4a6955fd7da10d4bc6c701caa80f96ef0b9777982220f7e1ec636f9"), c2s, 80, l7.No},

	// NTP (android.pcap: client request, server reply).
	{"ntp client", NTP, h("1b000000000000000000000000000000000000000000000000000000000000000000000000000000e1fcd68ee3126ecc"), c2s, 123, l7.Maybe},
	{"ntp client off port", NTP, h("1b000000000000000000000000000000000000000000000000000000000000000000000000000000e1fcd68ee3126ecc"), c2s, 53, l7.No},
	{"ntp server", NTP, h("1c0100ec000000000000000c474f4f47e1fcd6d356f0a848e1fcd68ee3126ecce1fcd6d356f0a849e1fcd6d356f0a84b"), s2c, 40000, l7.Yes},
	{"ntp short", NTP, h("1b00000000000000000000000000"), c2s, 123, l7.No},
	{"ntp version 0", NTP, append([]byte{0x03}, make([]byte, 47)...), c2s, 123, l7.No},

	// DHCP (android.pcap: DHCPREQUEST; 1kxun.pcap: DHCPv6 INFORMATION-REQUEST).
	{"dhcp request", DHCP, h("010106007854470b0000000000000000000000000000000000000000d8306256001c0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363350101370a017903060f77fc5f2c2e390205dc3d0701d8306256001c33040076a7000c0a4c756361732d694d6163ff00000000000000000000000000"), c2s, 67, l7.Yes},
	{"dhcpv6 info-request", DHCP, h("0b27731d0001000e000100011db8e6fb703eacf0f0070006000400170018000800020000"), c2s, 547, l7.Yes},
	{"dhcpv6 options overrun", DHCP, h("0b27731d0001000f000100011db8e6fb703eacf0f0070006000400170018000800020000"), c2s, 547, l7.No},

	// ZooKeeper (testdata/zookeeper.pcap: zkCli.sh connect request and
	// the server's connect response; four-letter words).
	{"zk connect", ZooKeeper, h("0000002d000000000000000000000000000075300000000000000000000000100000000000000000000000000000000000"), c2s, 2181, l7.Yes},
	{"zk connect response", ZooKeeper, h("000000250000000000007530010000b68a02000000000010cce98c8c6905b2ae8a6f75055ac210ea00"), s2c, 2181, l7.Yes},
	{"zk ping", ZooKeeper, h("00000008fffffffe0000000b"), c2s, 2181, l7.Yes},
	{"zk ruok", ZooKeeper, []byte("ruok"), c2s, 12345, l7.Yes},
	{"zk imok", ZooKeeper, []byte("imok"), s2c, 12345, l7.Yes},
	{"zk stat", ZooKeeper, []byte("stat\n"), c2s, 2181, l7.Maybe},
	{"zk stat off port", ZooKeeper, []byte("stat\n"), c2s, 80, l7.No},
	{"zk word then more", ZooKeeper, []byte("ruok please"), c2s, 2181, l7.No},
	{"zk getData", ZooKeeper, h("0000001700000001000000040000000a2f77697265776174636800"), c2s, 2181, l7.Maybe},

	// Cassandra (cassandra.pcap: OPTIONS, SUPPORTED, STARTUP, inter-node).
	{"cql options", Cassandra, h("040000000500000000"), c2s, 9042, l7.Yes},
	{"cql supported", Cassandra, h("8400000006000000340002000b434f4d5052455353494f4e00020006736e6170707900036c7a34000b43514c5f56455253494f4e00010005332e332e31"), s2c, 9042, l7.Yes},
	{"cql startup", Cassandra, h("0400000101000000160001000b43514c5f56455253494f4e0005332e332e31"), c2s, 9999, l7.Yes},
	{"cql internode", Cassandra, h("ca552dfa0c0a0c1106c61200021b58f3cb19b3"), c2s, 7000, l7.Yes},
	{"cql query mid-stream", Cassandra, h("04000005070000000c0000000773656c656374"), c2s, 9042, l7.Maybe},
	{"cql response from client", Cassandra, h("840000000500000000"), c2s, 9042, l7.No},
	{"cql bad flags", Cassandra, h("04e000000500000000"), c2s, 9042, l7.No},

	// memcached (testdata/memcached.pcap, memcached.cap).
	{"mc set", Memcached, []byte("set wirewatch 0 0 5\r\nhello\r\n"), c2s, 40000, l7.Yes},
	{"mc stats", Memcached, []byte("stats\r\n"), c2s, 11211, l7.Yes},
	{"mc STAT", Memcached, []byte("STAT pid 8837\r\nSTAT uptime 193\r\n"), s2c, 11211, l7.Yes},
	{"mc get", Memcached, []byte("get wirewatch\r\n"), c2s, 11211, l7.Maybe},
	{"mc get (redis inline?)", Memcached, []byte("get wirewatch\r\n"), c2s, 6379, l7.No},
	{"mc http", Memcached, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), c2s, 11211, l7.No},
	{"mc binary set", Memcached, h("80010002080000000000000f0001000000000000000000000000000000000000663168656c6c6f"), c2s, 11211, l7.Yes},
	{"mc binary response", Memcached, h("810100000000000000000000000100000000000000000003"), s2c, 11211, l7.Yes},
	{"mc binary on 11210", Memcached, h("80010002080000000000000f0001000000000000000000000000000000000000663168656c6c6f"), c2s, 11210, l7.No},
	{"mc udp get", Memcached, h("0001000000010000676574207769726577617463680d0a"), c2s, 11211, l7.Maybe},
	{"mc udp value", Memcached, h("000100000001000056414c554520776972657761746368203020350d0a68656c6c6f0d0a454e440d0a"), s2c, 11211, l7.Yes},
	{"mc helo is couchbase", Memcached, h("801f000d00000000000000131122334400000000000000007769726577617463682f302e31000100060007"), c2s, 11211, l7.No},
	// A MongoDB reply (mongo.pcap) that reads as a response header with a
	// 16 MiB body.
	{"mongo reply", Memcached, h("810000003d00000001000000dd07000001000000006800000010636f6e766572"), s2c, 27017, l7.No},

	// Couchbase (testdata/couchbase.pcap).
	{"cb helo", Couchbase, h("801f000d00000000000000131122334400000000000000007769726577617463682f302e31000100060007"), c2s, 40000, l7.Yes},
	{"cb set on 11210", Couchbase, h("80010002080000000000000f0001000000000000000000000000000000000000663168656c6c6f"), c2s, 11210, l7.Yes},
	{"cb set on 11211", Couchbase, h("80010002080000000000000f0001000000000000000000000000000000000000663168656c6c6f"), c2s, 11211, l7.No},
	{"cb json datatype", Couchbase, h("80010002080100000000000f0001000000000000000000000000000000000000663168656c6c6f"), c2s, 40000, l7.Yes},

	// AMQP (amqp.pcap: Basic.Publish method frame; the protocol headers).
	{"amqp 0-9-1 header", AMQP, []byte("AMQP\x00\x00\x09\x01"), c2s, 40000, l7.Yes},
	{"amqp 1.0 header", AMQP, []byte("AMQP\x00\x01\x00\x00"), c2s, 5672, l7.Yes},
	{"amqp method frame", AMQP, h("01000100000021003c002800000863656c657279657610776f726b65722e68656172746265617400ce"), c2s, 40000, l7.Yes},
	{"amqp bad frame end", AMQP, h("01000100000021003c002800000863656c657279657610776f726b65722e68656172746265617400cf"), c2s, 5672, l7.No},
	{"amqp heartbeat", AMQP, h("08000000000000ce"), c2s, 5672, l7.Yes},
	{"amqp connection.start", AMQP, h("01000000000008000a000a00090000ce"), s2c, 5672, l7.Yes},
	{"amqp 1.0 open", AMQP, h("0000001c02000000005310c00f01a10c776972657761746368000000"), c2s, 5672, l7.Yes},

	// MQTT (testdata/mqtt.pcap: CONNECT 3.1.1, 5.0, 3.1 and a PUBLISH).
	{"mqtt connect 311", MQTT, h("100c00044d5154540402003c0000"), c2s, 40000, l7.Yes},
	{"mqtt connect 5", MQTT, h("101000044d5154540502003c032100140000"), c2s, 1883, l7.Yes},
	{"mqtt connect 31", MQTT, h("102500064d51497364700302003c00176d6f73712d594d5061514f394857723266484c67616142"), c2s, 1883, l7.Yes},
	{"mqtt connect reserved flag", MQTT, h("100c00044d5154540403003c0000"), c2s, 1883, l7.No},
	{"mqtt publish", MQTT, h("321b000e7769726577617463682f74657374000168656c6c6f20333131"), c2s, 1883, l7.Maybe},
	{"mqtt publish off port", MQTT, h("321b000e7769726577617463682f74657374000168656c6c6f20333131"), c2s, 80, l7.No},
	{"mqtt pingreq", MQTT, h("c000"), c2s, 1883, l7.Maybe},
	{"mqtt publish qos 3", MQTT, h("361b000e7769726577617463682f74657374000168656c6c6f20333131"), c2s, 1883, l7.No},

	// TDS (mssql_tds.pcap: SQL batches with and without ALL_HEADERS;
	// [MS-TDS] 4.1 PRELOGIN example).
	{"tds batch all_headers", TDS, h("010100be0000010016000000120000000200000000000000000001000000200073006500740020007400720061006e00730061006300740069006f006e002000690073006f006c006100740069006f006e0020006c006500760065006c00200020007200650061006400200063006f006d006d006900740074006500640020002000730065007400200069006d0070006c0069006300690074005f007400720061006e00730061006300740069006f006e00730020006f00660066002000"), c2s, 40000, l7.Yes},
	{"tds batch plain", TDS, h("0101002c0000010043004f004d004d004900540020005400520041004e00530041004300540049004f004e00"), c2s, 1433, l7.Maybe},
	{"tds batch plain off port", TDS, h("0101002c0000010043004f004d004d004900540020005400520041004e00530041004300540049004f004e00"), c2s, 8080, l7.No},
	{"tds done response", TDS, h("0401002200350100fd0100f9000000000000000000fd0000ba000000000000000000"), s2c, 1433, l7.Maybe},
	{"tds prelogin", TDS, h("1201002f0000010000001a000601002000010200210001030022000404002600 01ff 090000000000 01 00 b80d0000 01"), c2s, 40000, l7.Yes},
	{"tds tpkt on 102", TDS, h("0300001611e00000000100c0010ac1020100c2020102"), c2s, 102, l7.No},

	// TNS (syn-ack-ack-retrans-and-client-payload.pcap: tnsping's CONNECT
	// and the listener's REFUSE).
	{"tns connect", TNS, h("0057000001000000013a012c00002000ffff7f0800000100001d003a00000000000000000000000000000000000000000000000000000000000028434f4e4e4543545f444154413d28434f4d4d414e443d70696e672929"), c2s, 1533, l7.Yes},
	{"tns refuse", TNS, h("00480000040000002200003c284445534352495054494f4e3d28544d503d292856534e4e554d3d3029284552523d302928414c4941533d4c495354454e45525f4447313533332929"), s2c, 1533, l7.Yes},
	{"tns connect lower case", TNS, h("0057000001000000013a012c00002000ffff7f0800000100001d003a00000000000000000000000000000000000000000000000000000000000028636f6e6e6563745f646174613d28434f4d4d414e443d70696e672929"), c2s, 1533, l7.Yes},
	{"tns connect without descriptor", TNS, append(h("0057000001000000013a012c00002000ffff7f0800000100001d003a00000000000000000000000000000000000000000000000000000000000028434f4e4e4543545f444154413d28434f4d4d414e443d70696e672929")[:58], make([]byte, 100)...), c2s, 1521, l7.Maybe},
	{"tns resend", TNS, h("000800000b000000"), s2c, 1521, l7.Maybe},
	{"tns resend off port", TNS, h("000800000b000000"), s2c, 80, l7.No},

	// TFTP (tcpdump/tftp.pcap; HSRP advertisement from HSRP_coup.pcap).
	{"tftp rrq", TFTP, h("000166696c6531006f6374657400"), c2s, 69, l7.Yes},
	{"tftp wrq netascii", TFTP, []byte("\x00\x02notes.txt\x00NetASCII\x00"), c2s, 40000, l7.Yes},
	{"tftp ack", TFTP, h("00040001"), c2s, 49614, l7.Maybe},
	{"tftp oack", TFTP, []byte("\x00\x06blksize\x001428\x00"), s2c, 40000, l7.Yes},
	{"tftp rrq no mode", TFTP, []byte("\x00\x01file\x00"), c2s, 69, l7.No},
	{"hsrp advertisement", TFTP, h("00030001000e0200000000016f000000"), c2s, 1985, l7.No},

	// Spark (built as Spark's MessageEncoder writes an RpcRequest).
	{"spark rpc request", Spark, sparkFrame(3, 0x1234567890, []byte("\x01\x00\x09localhost\x00\x00\x1b\xa5")), c2s, 7077, l7.Yes},
	{"spark rpc response", Spark, sparkFrame(4, 0x1234567890, []byte{0xac, 0xed, 0x00, 0x05}), s2c, 40000, l7.Yes},
	{"spark negative request id", Spark, sparkFrame(3, -5, []byte{1, 2, 3}), c2s, 7077, l7.No},
	{"spark length mismatch", Spark, append(sparkFrame(3, 7, []byte{1, 2, 3})[:20], 9), c2s, 7077, l7.No},

	// echo (testdata/echo.pcap).
	{"echo", Echo, []byte("wirewatch echo test\n"), c2s, 7, l7.Maybe},
	{"echo off port", Echo, []byte("wirewatch echo test\n"), c2s, 8, l7.No},
}

// sparkFrame builds an RpcRequest (typ 3) or RpcResponse (typ 4) frame:
// frame length (8, counting itself), type, request id, body size, body.
func sparkFrame(typ byte, id int64, body []byte) []byte {
	b := make([]byte, 21, 21+len(body))
	binary.BigEndian.PutUint64(b, uint64(21+len(body)))
	b[8] = typ
	binary.BigEndian.PutUint64(b[9:], uint64(id))
	binary.BigEndian.PutUint32(b[17:], uint32(len(body)))
	return append(b, body...)
}

func TestSamples(t *testing.T) {
	for _, s := range samples {
		if got := s.proto.Detect(s.b, s.dir, s.port); got != s.want {
			t.Errorf("%s: %s.Detect = %v, want %v", s.name, s.proto.Name, got, s.want)
		}
	}
}

// TestPrefixes: a TCP detector sees a stream grow, and after a No the
// Tracker gives up on those bytes. So no prefix of a TCP message that a
// detector accepts may be answered No, and a prefix is never a stronger
// match than the whole.
func TestPrefixes(t *testing.T) {
	for _, s := range samples {
		if !s.proto.TCP || s.proto.UDP || s.want == l7.No {
			continue
		}
		for i := 1; i < len(s.b); i++ {
			v := s.proto.Detect(s.b[:i], s.dir, s.port)
			if v == l7.No {
				t.Errorf("%s: %d of %d bytes: No", s.name, i, len(s.b))
				break
			}
			if v == l7.Yes && s.want != l7.Yes {
				t.Errorf("%s: %d of %d bytes: Yes, the whole is %v", s.name, i, len(s.b), s.want)
				break
			}
		}
	}
}

// TestExclusive: what one detector accepts as Yes, no other detector of
// the package accepts at all on a port that is not its own, and none
// says Yes to on any port.
func TestExclusive(t *testing.T) {
	for _, s := range samples {
		if s.want != l7.Yes {
			continue
		}
		for _, p := range All {
			if p == s.proto {
				continue
			}
			for _, port := range []uint16{s.port, 40000} {
				if s.proto.Detect(s.b, s.dir, port) != l7.Yes {
					continue // Yes only on its own port (memcached frames on 11210)
				}
				v := p.Detect(s.b, s.dir, port)
				if v == l7.Yes || v == l7.Maybe && !onPort(port, p.Ports) {
					t.Errorf("%s (%s) port %d: %s says %v", s.name, s.proto.Name, port, p.Name, v)
				}
			}
		}
	}
}

// TestAllNames checks the protocol list the registry takes.
func TestAllNames(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range All {
		if p.Name == "" || strings.ToLower(p.Name) != p.Name || strings.Contains(p.Name, " ") {
			t.Errorf("bad name %q", p.Name)
		}
		if seen[p.Name] {
			t.Errorf("%s listed twice", p.Name)
		}
		seen[p.Name] = true
		if p.New != nil || p.Detect == nil || !p.TCP && !p.UDP || len(p.Ports) == 0 {
			t.Errorf("%s: detection-only protocols need Detect, a transport and ports, and no parser", p.Name)
		}
	}
	if len(All) != 14 {
		t.Errorf("%d protocols, want 14", len(All))
	}
}
