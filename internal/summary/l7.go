package summary

import (
	"bytes"
	"strconv"
	"unsafe"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/proto/dns"
	"github.com/wirewatch/wirewatch/internal/sketch"
)

// The application-layer part of a bucket: per-protocol transaction
// counters and latency for every decoded protocol, and pktvisor-style
// sections for DNS, HTTP and TLS. Everything is built from transactions
// (internal/l7), allocated on a bucket's first transaction of the kind.

// ProtoStats counts one protocol's transactions in a window.
type ProtoStats struct {
	Transactions uint64
	Outcomes     [8]uint64 // by l7.Outcome
	SQLi         uint64
	Truncated    uint64
	ReqBytes     uint64
	RespBytes    uint64
	Latency      *sketch.Quantiles // µs, transactions with both sides
	TopOps       *sketch.TopK
	TopStatus    *sketch.TopK
	TopTargets   *sketch.TopK
	TopSlow      *sketch.TopK // targets of transactions at or above the running p90 latency
	gate         slowGate
}

func newProtoStats(capacity int) *ProtoStats {
	return &ProtoStats{
		Latency:    sketch.NewQuantiles(),
		TopOps:     sketch.NewTopK(capacity),
		TopStatus:  sketch.NewTopK(capacity),
		TopTargets: sketch.NewTopK(capacity),
		TopSlow:    sketch.NewTopK(capacity),
	}
}

func (p *ProtoStats) merge(o *ProtoStats) {
	p.Transactions += o.Transactions
	for i := range p.Outcomes {
		p.Outcomes[i] += o.Outcomes[i]
	}
	p.SQLi += o.SQLi
	p.Truncated += o.Truncated
	p.ReqBytes += o.ReqBytes
	p.RespBytes += o.RespBytes
	_ = p.Latency.Merge(o.Latency)
	p.TopOps.Merge(o.TopOps)
	p.TopStatus.Merge(o.TopStatus)
	p.TopTargets.Merge(o.TopTargets)
	p.TopSlow.Merge(o.TopSlow)
}

// slowGate is the running-p90 test for "top slow" lists (pktvisor keeps
// the names of transactions in the slowest decile). The p90 is taken from
// the latency sketch again only when the sample count has grown by 1/16
// since the last time: a quantile query walks the sketch, and this runs
// per transaction. With few samples every transaction is a candidate.
type slowGate struct {
	threshold float64
	next      uint64
}

func (g *slowGate) slow(q *sketch.Quantiles, us float64) bool {
	n := q.Count()
	if n < 10 {
		return true
	}
	if n >= g.next {
		g.threshold = q.Quantile(0.90)
		g.next = n + n/16 + 1
	}
	return us >= g.threshold
}

// DNSStats is pktvisor's DNS handler view, built from DNS transactions: a
// transaction with a request counts one query message, with a response
// one reply message.
type DNSStats struct {
	DNSCounters
	QNames                                   *sketch.Distinct
	TopQName2, TopQName3, TopQType, TopRcode *sketch.TopK
	TopNXDomain, TopRefused, TopSrvFail      *sketch.TopK
	TopUDPPorts                              *sketch.TopK
	Xact                                     uint64 // query and reply both seen
	XactTimedOut                             uint64 // queries without reply
	XactIn, XactOut                          uint64
	LatIn, LatOut                            *sketch.Quantiles // µs
	SlowIn, SlowOut                          *sketch.TopK
	gateIn, gateOut                          slowGate
}

func newDNSStats(c int) *DNSStats {
	return &DNSStats{
		QNames:    sketch.NewDenseDistinct(),
		TopQName2: sketch.NewTopK(c), TopQName3: sketch.NewTopK(c), TopQType: sketch.NewTopK(c), TopRcode: sketch.NewTopK(c),
		TopNXDomain: sketch.NewTopK(c), TopRefused: sketch.NewTopK(c), TopSrvFail: sketch.NewTopK(c), TopUDPPorts: sketch.NewTopK(c),
		LatIn: sketch.NewQuantiles(), LatOut: sketch.NewQuantiles(), SlowIn: sketch.NewTopK(c), SlowOut: sketch.NewTopK(c),
	}
}

func (d *DNSStats) merge(o *DNSStats) {
	d.DNSCounters.add(&o.DNSCounters)
	_ = d.QNames.Merge(o.QNames)
	for _, p := range [][2]*sketch.TopK{{d.TopQName2, o.TopQName2}, {d.TopQName3, o.TopQName3}, {d.TopQType, o.TopQType},
		{d.TopRcode, o.TopRcode}, {d.TopNXDomain, o.TopNXDomain}, {d.TopRefused, o.TopRefused}, {d.TopSrvFail, o.TopSrvFail},
		{d.TopUDPPorts, o.TopUDPPorts}, {d.SlowIn, o.SlowIn}, {d.SlowOut, o.SlowOut}} {
		p[0].Merge(p[1])
	}
	d.Xact += o.Xact
	d.XactTimedOut += o.XactTimedOut
	d.XactIn += o.XactIn
	d.XactOut += o.XactOut
	_ = d.LatIn.Merge(o.LatIn)
	_ = d.LatOut.Merge(o.LatOut)
}

// DNSCounters are the DNS message counters (pktvisor's wire_packets).
type DNSCounters struct {
	Total, Queries, Replies                     uint64
	NoError, NXDomain, Refused, SrvFail, NoData uint64
	TCP, UDP, IPv4, IPv6                        uint64
}

func (d *DNSCounters) add(o *DNSCounters) {
	d.Total += o.Total
	d.Queries += o.Queries
	d.Replies += o.Replies
	d.NoError += o.NoError
	d.NXDomain += o.NXDomain
	d.Refused += o.Refused
	d.SrvFail += o.SrvFail
	d.NoData += o.NoData
	d.TCP += o.TCP
	d.UDP += o.UDP
	d.IPv4 += o.IPv4
	d.IPv6 += o.IPv6
}

// L7Counters are a protocol's transaction counters.
type L7Counters struct {
	Outcomes  [8]uint64 // by l7.Outcome
	ReqBytes  uint64
	RespBytes uint64
	SQLi      uint64
}

// addL7 adds a bucket's application-layer counters to totals.
func (t *Totals) addL7(b *Bucket) {
	for name, p := range b.L7 {
		if t.L7 == nil {
			t.L7 = map[string]*L7Counters{}
		}
		c := t.L7[name]
		if c == nil {
			c = &L7Counters{}
			t.L7[name] = c
		}
		for i := range c.Outcomes {
			c.Outcomes[i] += p.Outcomes[i]
		}
		c.ReqBytes += p.ReqBytes
		c.RespBytes += p.RespBytes
		c.SQLi += p.SQLi
	}
	if b.DNS != nil {
		t.DNS.add(&b.DNS.DNSCounters)
	}
}

// HTTPStats is the HTTP section (HTTP/1.x and HTTP/2; gRPC calls are
// counted under their own protocol in ProtoStats and here).
type HTTPStats struct {
	Requests, Responses uint64
	TopMethods          *sketch.TopK
	TopStatus           *sketch.TopK
	TopHosts            *sketch.TopK
	TopPaths            *sketch.TopK // path without the query string
	Latency             *sketch.Quantiles
	TopSlow             *sketch.TopK // paths
	gate                slowGate
}

func newHTTPStats(c int) *HTTPStats {
	return &HTTPStats{TopMethods: sketch.NewTopK(c), TopStatus: sketch.NewTopK(c), TopHosts: sketch.NewTopK(c),
		TopPaths: sketch.NewTopK(c), Latency: sketch.NewQuantiles(), TopSlow: sketch.NewTopK(c)}
}

func (h *HTTPStats) merge(o *HTTPStats) {
	h.Requests += o.Requests
	h.Responses += o.Responses
	h.TopMethods.Merge(o.TopMethods)
	h.TopStatus.Merge(o.TopStatus)
	h.TopHosts.Merge(o.TopHosts)
	h.TopPaths.Merge(o.TopPaths)
	_ = h.Latency.Merge(o.Latency)
	h.TopSlow.Merge(o.TopSlow)
}

// TLSStats is the TLS section.
type TLSStats struct {
	Handshakes, ServerHellos uint64
	TopSNI                   *sketch.TopK
	TopVersions              *sketch.TopK
	TopJA4                   *sketch.TopK
	TopJA3                   *sketch.TopK
	TopALPN                  *sketch.TopK
}

func newTLSStats(c int) *TLSStats {
	return &TLSStats{TopSNI: sketch.NewTopK(c), TopVersions: sketch.NewTopK(c), TopJA4: sketch.NewTopK(c),
		TopJA3: sketch.NewTopK(c), TopALPN: sketch.NewTopK(c)}
}

func (t *TLSStats) merge(o *TLSStats) {
	t.Handshakes += o.Handshakes
	t.ServerHellos += o.ServerHellos
	t.TopSNI.Merge(o.TopSNI)
	t.TopVersions.Merge(o.TopVersions)
	t.TopJA4.Merge(o.TopJA4)
	t.TopJA3.Merge(o.TopJA3)
	t.TopALPN.Merge(o.TopALPN)
}

// mergeL7 folds o's application-layer part into b.
func (b *Bucket) mergeL7(o *Bucket) {
	for name, p := range o.L7 {
		mine := b.L7[name]
		if mine == nil {
			mine = newProtoStats(b.topCapacity)
			if b.L7 == nil {
				b.L7 = map[string]*ProtoStats{}
			}
			b.L7[name] = mine
		}
		mine.merge(p)
	}
	if o.DNS != nil {
		if b.DNS == nil {
			b.DNS = newDNSStats(b.topCapacity)
		}
		b.DNS.merge(o.DNS)
	}
	if o.HTTP != nil {
		if b.HTTP == nil {
			b.HTTP = newHTTPStats(b.topCapacity)
		}
		b.HTTP.merge(o.HTTP)
	}
	if o.TLS != nil {
		if b.TLS == nil {
			b.TLS = newTLSStats(b.topCapacity)
		}
		b.TLS.merge(o.TLS)
	}
}

// Transaction counts one transaction in the current bucket.
func (r *Recorder) Transaction(t *l7.Transaction) {
	b := r.cur
	if b == nil {
		return
	}
	p := r.lastStats
	if r.lastIn != b || t.Proto != r.lastProto {
		p = b.L7[t.Proto]
		if p == nil {
			if b.L7 == nil {
				b.L7 = map[string]*ProtoStats{}
			}
			p = newProtoStats(b.topCapacity)
			b.L7[t.Proto] = p
		}
		r.lastIn, r.lastProto, r.lastStats = b, t.Proto, p
	}
	p.Transactions++
	if int(t.Outcome) < len(p.Outcomes) {
		p.Outcomes[t.Outcome]++
	}
	if t.Flags&l7.FlagSQLi != 0 {
		p.SQLi++
	}
	if t.Flags&l7.FlagTruncated != 0 {
		p.Truncated++
	}
	p.ReqBytes += uint64(max(t.ReqBytes, 0))
	p.RespBytes += uint64(max(t.RespBytes, 0))
	// Protocols with a section of their own rank their ops, statuses and
	// targets there (qtypes, rcodes, qnames; methods, statuses, paths;
	// versions, SNIs): ranking them twice would double the cost of the
	// most expensive part of the summary.
	own := t.Proto == "dns" || t.Proto == "http" || t.Proto == "http2" || t.Proto == "tls"
	if !own {
		if len(t.Op) > 0 {
			p.TopOps.AddBytes(t.Op, 1)
		}
		if len(t.Status) > 0 {
			p.TopStatus.AddBytes(t.Status, 1)
		}
		if len(t.Target) > 0 {
			p.TopTargets.AddBytes(t.Target, 1)
		}
	}
	lat := t.Latency()
	if lat >= 0 {
		us := float64(lat) / 1e3
		if !own && len(t.Target) > 0 && p.gate.slow(p.Latency, us) {
			p.TopSlow.AddBytes(t.Target, 1)
		}
		p.Latency.Add(us)
	}
	switch t.Proto {
	case "dns":
		r.dns(b, t, lat)
	case "http", "http2", "grpc":
		r.http(b, t, lat)
	case "tls":
		r.tls(b, t)
	}
}

var (
	rcodeNoError  = []byte("NOERROR")
	rcodeNXDomain = []byte("NXDOMAIN")
	rcodeRefused  = []byte("REFUSED")
	rcodeSrvFail  = []byte("SRVFAIL")
)

func (r *Recorder) dns(b *Bucket, t *l7.Transaction, lat int64) {
	d := b.DNS
	if d == nil {
		d = newDNSStats(b.topCapacity)
		b.DNS = d
	}
	var msgs uint64
	if t.ReqTS != 0 {
		d.Queries++
		msgs++
	}
	if t.RespTS != 0 {
		d.Replies++
		msgs++
		switch {
		case bytes.Equal(t.Status, rcodeNoError):
			d.NoError++
			if a := t.Field("answers"); len(a) == 1 && a[0] == '0' {
				d.NoData++
			}
		case bytes.Equal(t.Status, rcodeNXDomain):
			d.NXDomain++
			d.TopNXDomain.AddBytes(t.Target, 1)
		case bytes.Equal(t.Status, rcodeRefused):
			d.Refused++
			d.TopRefused.AddBytes(t.Target, 1)
		case bytes.Equal(t.Status, rcodeSrvFail):
			d.SrvFail++
			d.TopSrvFail.AddBytes(t.Target, 1)
		}
		if len(t.Status) > 0 {
			d.TopRcode.AddBytes(t.Status, 1)
		}
	}
	d.Total += msgs
	if t.Transport == l7.TCP {
		d.TCP += msgs
	} else {
		d.UDP += msgs
	}
	// pktvisor's top_udp_ports ranks the client's port of every message,
	// TCP ones included despite the name (its dns_udp_tcp_random numbers
	// only add up that way); kept for comparability.
	var buf [8]byte
	d.TopUDPPorts.AddBytes(strconv.AppendUint(buf[:0], uint64(t.Client.Port()), 10), msgs)
	if t.Client.Addr().Unmap().Is4() {
		d.IPv4 += msgs
	} else {
		d.IPv6 += msgs
	}
	if len(t.Target) > 0 {
		d.QNames.AddBytes(t.Target)
		if q2 := dns.QName2(view(t.Target)); len(q2) > 0 {
			d.TopQName2.AddBytes(viewBytes(q2), msgs)
		}
		if q3 := dns.QName3(view(t.Target)); len(q3) > 0 {
			d.TopQName3.AddBytes(viewBytes(q3), msgs)
		}
	}
	if len(t.Op) > 0 {
		d.TopQType.AddBytes(t.Op, msgs)
	}
	if t.ReqTS != 0 && t.RespTS == 0 {
		d.XactTimedOut++
	}
	if lat < 0 {
		return
	}
	d.Xact++
	us := float64(lat) / 1e3
	lq, slow, gate := d.LatOut, d.SlowOut, &d.gateOut
	switch {
	case r.hosts.contains(t.Server.Addr().Unmap()):
		d.XactIn++
		lq, slow, gate = d.LatIn, d.SlowIn, &d.gateIn
	default:
		// The probe's host asked, or no host CIDR says: pktvisor counts
		// transactions it cannot place as outgoing too.
		d.XactOut++
	}
	if len(t.Target) > 0 && gate.slow(lq, us) {
		slow.AddBytes(t.Target, 1)
	}
	lq.Add(us)
}

func (r *Recorder) http(b *Bucket, t *l7.Transaction, lat int64) {
	h := b.HTTP
	if h == nil {
		h = newHTTPStats(b.topCapacity)
		b.HTTP = h
	}
	path := t.Target
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if t.ReqTS != 0 {
		h.Requests++
		if len(t.Op) > 0 && t.Proto != "grpc" {
			h.TopMethods.AddBytes(t.Op, 1)
		}
		if host := t.Field("host"); len(host) > 0 {
			h.TopHosts.AddBytes(host, 1)
		} else if host := t.Field("authority"); len(host) > 0 {
			h.TopHosts.AddBytes(host, 1)
		}
		if p := t.Field("path"); len(p) > 0 {
			path = p
		}
		if len(path) > 0 {
			h.TopPaths.AddBytes(path, 1)
		}
	}
	if t.RespTS != 0 {
		h.Responses++
		st := t.Status
		if hs := t.Field("http_status"); len(hs) > 0 {
			st = hs
		}
		if len(st) > 0 {
			h.TopStatus.AddBytes(st, 1)
		}
	}
	if lat >= 0 {
		us := float64(lat) / 1e3
		if len(path) > 0 && h.gate.slow(h.Latency, us) {
			h.TopSlow.AddBytes(path, 1)
		}
		h.Latency.Add(us)
	}
}

func (r *Recorder) tls(b *Bucket, t *l7.Transaction) {
	s := b.TLS
	if s == nil {
		s = newTLSStats(b.topCapacity)
		b.TLS = s
	}
	if t.ReqTS != 0 {
		s.Handshakes++
		if len(t.Target) > 0 {
			s.TopSNI.AddBytes(t.Target, 1)
		}
		if v := t.Field("ja4"); len(v) > 0 {
			s.TopJA4.AddBytes(v, 1)
		}
		if v := t.Field("ja3"); len(v) > 0 {
			s.TopJA3.AddBytes(v, 1)
		}
	}
	if t.RespTS != 0 {
		s.ServerHellos++
		if v := t.Field("version"); len(v) > 0 {
			s.TopVersions.AddBytes(v, 1)
		}
		if v := t.Field("alpn_selected"); len(v) > 0 {
			s.TopALPN.AddBytes(v, 1)
		}
	}
}

// view and viewBytes let the string-based DNS name helpers work on
// transaction bytes without copying; the results are only used for
// lookups and copied by the sketches when kept.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func viewBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ProtoReport is one protocol's entry in the report's "l7" section.
type ProtoReport struct {
	Transactions  uint64        `json:"transactions"`
	OK            uint64        `json:"ok"`
	Errors        uint64        `json:"errors"`
	ClientErrors  uint64        `json:"client_errors"`
	ServerErrors  uint64        `json:"server_errors"`
	NoResponse    uint64        `json:"no_response"`
	NoRequest     uint64        `json:"no_request"`
	OneWay        uint64        `json:"one_way"`
	SQLi          uint64        `json:"sqli"`
	Truncated     uint64        `json:"truncated"`
	RequestBytes  uint64        `json:"request_bytes"`
	ResponseBytes uint64        `json:"response_bytes"`
	LatencyMicro  Quantiles     `json:"latency_us"`
	TopOps        []sketch.Item `json:"top_ops"`
	TopStatus     []sketch.Item `json:"top_status"`
	TopTargets    []sketch.Item `json:"top_targets"`
	TopSlow       []sketch.Item `json:"top_slow"`
}

func (p *ProtoStats) report(n int) ProtoReport {
	o := &p.Outcomes
	return ProtoReport{
		Transactions: p.Transactions,
		OK:           o[l7.OutcomeOK],
		Errors:       o[l7.OutcomeClientError] + o[l7.OutcomeServerError],
		ClientErrors: o[l7.OutcomeClientError], ServerErrors: o[l7.OutcomeServerError],
		NoResponse: o[l7.OutcomeNoResponse], NoRequest: o[l7.OutcomeNoRequest], OneWay: o[l7.OutcomeOneWay],
		SQLi: p.SQLi, Truncated: p.Truncated, RequestBytes: p.ReqBytes, ResponseBytes: p.RespBytes,
		LatencyMicro: quantiles(p.Latency),
		TopOps:       nonNil(p.TopOps.Top(n)), TopStatus: nonNil(p.TopStatus.Top(n)),
		TopTargets: nonNil(p.TopTargets.Top(n)), TopSlow: nonNil(p.TopSlow.Top(n)),
	}
}

// DNSReport is pktvisor's DNS section.
type DNSReport struct {
	WirePackets struct {
		Total    uint64 `json:"total"`
		Queries  uint64 `json:"queries"`
		Replies  uint64 `json:"replies"`
		NoError  uint64 `json:"noerror"`
		NXDomain uint64 `json:"nxdomain"`
		Refused  uint64 `json:"refused"`
		SrvFail  uint64 `json:"srvfail"`
		NoData   uint64 `json:"nodata"`
		TCP      uint64 `json:"tcp"`
		UDP      uint64 `json:"udp"`
		IPv4     uint64 `json:"ipv4"`
		IPv6     uint64 `json:"ipv6"`
	} `json:"wire_packets"`
	Cardinality struct {
		QName uint64 `json:"qname"`
	} `json:"cardinality"`
	TopQName2   []sketch.Item `json:"top_qname2"`
	TopQName3   []sketch.Item `json:"top_qname3"`
	TopQType    []sketch.Item `json:"top_qtype"`
	TopRcode    []sketch.Item `json:"top_rcode"`
	TopNXDomain []sketch.Item `json:"top_nxdomain"`
	TopRefused  []sketch.Item `json:"top_refused"`
	TopSrvFail  []sketch.Item `json:"top_srvfail"`
	TopUDPPorts []sketch.Item `json:"top_udp_ports"`
	Xact        struct {
		Counts struct {
			Total    uint64 `json:"total"`
			TimedOut uint64 `json:"timed_out"`
		} `json:"counts"`
		In  XactDir `json:"in"`
		Out XactDir `json:"out"`
	} `json:"xact"`
}

// XactDir is one direction of DNS transactions.
type XactDir struct {
	Total       uint64        `json:"total"`
	QuantilesUS Quantiles     `json:"quantiles_us"`
	TopSlow     []sketch.Item `json:"top_slow"`
}

func (d *DNSStats) report(n int) *DNSReport {
	r := &DNSReport{}
	w := &r.WirePackets
	w.Total, w.Queries, w.Replies = d.Total, d.Queries, d.Replies
	w.NoError, w.NXDomain, w.Refused, w.SrvFail, w.NoData = d.NoError, d.NXDomain, d.Refused, d.SrvFail, d.NoData
	w.TCP, w.UDP, w.IPv4, w.IPv6 = d.TCP, d.UDP, d.IPv4, d.IPv6
	r.Cardinality.QName = d.QNames.Estimate()
	r.TopQName2, r.TopQName3 = nonNil(d.TopQName2.Top(n)), nonNil(d.TopQName3.Top(n))
	r.TopQType, r.TopRcode = nonNil(d.TopQType.Top(n)), nonNil(d.TopRcode.Top(n))
	r.TopNXDomain, r.TopRefused, r.TopSrvFail = nonNil(d.TopNXDomain.Top(n)), nonNil(d.TopRefused.Top(n)), nonNil(d.TopSrvFail.Top(n))
	r.TopUDPPorts = nonNil(d.TopUDPPorts.Top(n))
	r.Xact.Counts.Total, r.Xact.Counts.TimedOut = d.Xact, d.XactTimedOut
	r.Xact.In = XactDir{Total: d.XactIn, QuantilesUS: quantiles(d.LatIn), TopSlow: nonNil(d.SlowIn.Top(n))}
	r.Xact.Out = XactDir{Total: d.XactOut, QuantilesUS: quantiles(d.LatOut), TopSlow: nonNil(d.SlowOut.Top(n))}
	return r
}

// HTTPReport is the HTTP section.
type HTTPReport struct {
	Requests     uint64        `json:"requests"`
	Responses    uint64        `json:"responses"`
	TopMethods   []sketch.Item `json:"top_methods"`
	TopStatus    []sketch.Item `json:"top_status"`
	TopHosts     []sketch.Item `json:"top_hosts"`
	TopPaths     []sketch.Item `json:"top_paths"`
	LatencyMicro Quantiles     `json:"latency_us"`
	TopSlow      []sketch.Item `json:"top_slow"`
}

func (h *HTTPStats) report(n int) *HTTPReport {
	return &HTTPReport{Requests: h.Requests, Responses: h.Responses,
		TopMethods: nonNil(h.TopMethods.Top(n)), TopStatus: nonNil(h.TopStatus.Top(n)),
		TopHosts: nonNil(h.TopHosts.Top(n)), TopPaths: nonNil(h.TopPaths.Top(n)),
		LatencyMicro: quantiles(h.Latency), TopSlow: nonNil(h.TopSlow.Top(n))}
}

// TLSReport is the TLS section.
type TLSReport struct {
	ClientHellos uint64        `json:"client_hellos"`
	ServerHellos uint64        `json:"server_hellos"`
	TopSNI       []sketch.Item `json:"top_sni"`
	TopVersions  []sketch.Item `json:"top_versions"`
	TopJA4       []sketch.Item `json:"top_ja4"`
	TopJA3       []sketch.Item `json:"top_ja3"`
	TopALPN      []sketch.Item `json:"top_alpn"`
}

func (t *TLSStats) report(n int) *TLSReport {
	return &TLSReport{ClientHellos: t.Handshakes, ServerHellos: t.ServerHellos,
		TopSNI: nonNil(t.TopSNI.Top(n)), TopVersions: nonNil(t.TopVersions.Top(n)),
		TopJA4: nonNil(t.TopJA4.Top(n)), TopJA3: nonNil(t.TopJA3.Top(n)), TopALPN: nonNil(t.TopALPN.Top(n))}
}

// reportL7 fills the report's application-layer sections.
func (b *Bucket) reportL7(r *Report, n int) {
	r.L7 = make(map[string]ProtoReport, len(b.L7))
	for name, p := range b.L7 {
		r.L7[name] = p.report(n)
	}
	if b.DNS != nil {
		r.DNS = b.DNS.report(n)
	}
	if b.HTTP != nil {
		r.HTTP = b.HTTP.report(n)
	}
	if b.TLS != nil {
		r.TLS = b.TLS.report(n)
	}
}
