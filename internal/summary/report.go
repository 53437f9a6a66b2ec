package summary

import (
	"sort"
	"time"
	"unicode/utf8"

	"github.com/wirewatch/wirewatch/internal/sketch"
)

// Quantiles is the JSON shape of a quantile sketch, as pktvisor prints it.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   uint64  `json:"count"`
}

func quantiles(q *sketch.Quantiles) Quantiles {
	if q.Count() == 0 {
		return Quantiles{}
	}
	return Quantiles{
		P50: q.Quantile(0.50),
		P90: q.Quantile(0.90),
		P95: q.Quantile(0.95),
		P99: q.Quantile(0.99),
		Max: q.Max(),
		N:   q.Count(),
	}
}

// Period says which time a report covers.
type Period struct {
	StartTS  float64 `json:"start_ts"`  // window start, Unix seconds
	Length   float64 `json:"length"`    // window length, seconds
	FirstTS  float64 `json:"first_ts"`  // first packet, Unix seconds
	LastTS   float64 `json:"last_ts"`   // last packet, Unix seconds
	Seconds  int     `json:"seconds"`   // seconds that saw traffic
	Complete bool    `json:"complete"`  // the window is closed
	Merged   int     `json:"merged"`    // windows merged into this report
	Started  string  `json:"start_utc"` // window start, RFC 3339
}

// PacketsReport is the "packets" section: pktvisor's net handler names.
type PacketsReport struct {
	Counters
	TCPSyn      uint64                `json:"tcp_syn"`
	Cardinality Cardinality           `json:"cardinality"`
	TopIPv4     []sketch.Item         `json:"top_ipv4"`
	TopIPv6     []sketch.Item         `json:"top_ipv6"`
	TopPorts    []sketch.Item         `json:"top_ports"`
	Rates       map[string]Quantiles  `json:"rates"`
	PayloadSize Quantiles             `json:"payload_size"`
	L4Payload   Quantiles             `json:"l4_payload_size"`
	Devices     map[string]DeviceJSON `json:"-"`
}

// Cardinality holds distinct-address estimates (HyperLogLog).
type Cardinality struct {
	SrcIPsIn  uint64 `json:"src_ips_in"`
	DstIPsOut uint64 `json:"dst_ips_out"`
	SrcIPs    uint64 `json:"src_ips"`
	DstIPs    uint64 `json:"dst_ips"`
}

// BytesReport is the "bytes" section: the same counters in bytes, and
// talkers ranked by bytes.
type BytesReport struct {
	Counters
	TopIPv4          []sketch.Item `json:"top_ipv4"`
	TopIPv6          []sketch.Item `json:"top_ipv6"`
	TopPorts         []sketch.Item `json:"top_ports"`
	TopConversations []sketch.Item `json:"top_conversations"`
}

// FlowsReport is the "flows" section.
type FlowsReport struct {
	FlowCounters
	TCP      TCPCounters `json:"tcp"`
	RTTMicro Quantiles   `json:"rtt_us"`
}

// DeviceJSON is one device's traffic record.
type DeviceJSON = DeviceCounters

// Report is the JSON form of a bucket; docs/summary-json.md documents it.
type Report struct {
	Period  Period                    `json:"period"`
	Packets PacketsReport             `json:"packets"`
	Bytes   BytesReport               `json:"bytes"`
	Flows   FlowsReport               `json:"flows"`
	Devices map[string]DeviceCounters `json:"devices"`
	Loss    Loss                      `json:"loss"`
	// L7 has one entry per decoded protocol; DNS, HTTP and TLS are
	// present when the window saw such transactions.
	L7   map[string]ProtoReport `json:"l7"`
	DNS  *DNSReport             `json:"dns,omitempty"`
	HTTP *HTTPReport            `json:"http,omitempty"`
	TLS  *TLSReport             `json:"tls,omitempty"`
}

func secs(ns int64) float64 { return float64(ns) / 1e9 }

// Report renders the bucket with top-N lists of n entries.
func (b *Bucket) Report(n int, complete bool, merged int) *Report {
	r := &Report{
		Period: Period{
			StartTS:  secs(b.Start),
			Length:   secs(b.End - b.Start),
			FirstTS:  secs(b.FirstTS),
			LastTS:   secs(b.LastTS),
			Seconds:  len(b.seconds),
			Complete: complete,
			Merged:   merged,
			Started:  time.Unix(0, b.Start).UTC().Format(time.RFC3339),
		},
		Packets: PacketsReport{
			Counters: b.Packets,
			TCPSyn:   b.TCP.SYN + b.TCP.SYNACK, // pktvisor: every packet with SYN set
			Cardinality: Cardinality{
				SrcIPsIn:  b.SrcIPsIn.Estimate(),
				DstIPsOut: b.DstIPsOut.Estimate(),
				SrcIPs:    b.SrcIPs.Estimate(),
				DstIPs:    b.DstIPs.Estimate(),
			},
			TopIPv4:     nonNil(b.TopIPv4.Top(n)),
			TopIPv6:     nonNil(b.TopIPv6.Top(n)),
			TopPorts:    nonNil(b.TopPorts.Top(n)),
			Rates:       map[string]Quantiles{},
			PayloadSize: quantiles(b.payloadSize.quantiles()),
			L4Payload:   quantiles(b.l4Payload.quantiles()),
		},
		Bytes: BytesReport{
			Counters:         b.Bytes,
			TopIPv4:          nonNil(b.TopIPv4Bytes.Top(n)),
			TopIPv6:          nonNil(b.TopIPv6Bytes.Top(n)),
			TopPorts:         nonNil(b.TopPortsBytes.Top(n)),
			TopConversations: nonNil(b.TopConversations.Top(n)),
		},
		Flows: FlowsReport{
			FlowCounters: b.Flows,
			TCP:          b.TCP,
			RTTMicro:     quantiles(b.RTT),
		},
		Devices: map[string]DeviceCounters{},
		Loss:    b.Loss,
	}
	for name, q := range b.rateQuantiles() {
		r.Packets.Rates[name] = quantiles(q)
	}
	for name, d := range b.Devices {
		r.Devices[name] = *d
	}
	if r.Loss.Malformed == nil {
		r.Loss.Malformed = map[string]uint64{}
	}
	if r.Loss.FragmentsDropped == nil {
		r.Loss.FragmentsDropped = map[string]uint64{}
	}
	if r.Loss.L7 == nil {
		r.Loss.L7 = map[string]uint64{}
	}
	b.reportL7(r, n)
	return r
}

// nonNil makes a top-N list for a report: never null, and names that
// came from captured bytes made valid text the way records are (each byte
// that is not UTF-8 as the four characters \xNN, see docs/records.md), so
// a name in a summary is the same string as in the transactions.
func nonNil(items []sketch.Item) []sketch.Item {
	if items == nil {
		return []sketch.Item{}
	}
	for i := range items {
		if !utf8.ValidString(items[i].Name) {
			items[i].Name = escapeInvalid(items[i].Name)
		}
	}
	return items
}

func escapeInvalid(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, '\\', 'x', hex[s[i]>>4], hex[s[i]&0xf])
			i++
			continue
		}
		b = append(b, s[i:i+size]...)
		i += size
	}
	return string(b)
}

// DeviceNames returns the devices of a report in a stable order.
func (r *Report) DeviceNames() []string {
	names := make([]string, 0, len(r.Devices))
	for n := range r.Devices {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
