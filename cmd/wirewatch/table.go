package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/wirewatch/wirewatch/internal/sketch"
)

// safe makes a string that came from captured bytes harmless on a
// terminal: control characters and escape sequences are shown as \xNN.
func safe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == unicode.ReplacementChar:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func printTable(w io.Writer, out *ReadOutput) {
	r := out.Report
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	// The report's float seconds carry µs precision at best after float
	// rounding: round to it rather than print float noise.
	first := time.UnixMicro(int64(math.Round(r.Period.FirstTS * 1e6))).UTC()
	last := time.UnixMicro(int64(math.Round(r.Period.LastTS * 1e6))).UTC()
	fmt.Fprintf(tw, "file\t%s\n", safe(out.File))
	fmt.Fprintf(tw, "span\t%s .. %s (%s)\n", first.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano), last.Sub(first).Round(time.Millisecond))
	fmt.Fprintf(tw, "read in\t%.3fs (%.0f frames/s), %d windows\n", out.ElapsedS, float64(out.Capture.Packets)/max(out.ElapsedS, 1e-9), out.WindowsN)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "\tpackets\tbytes")
	p, b := r.Packets.Counters, r.Bytes.Counters
	for _, row := range []struct {
		name   string
		pk, by uint64
	}{
		{"total", p.Total, b.Total}, {"ipv4", p.IPv4, b.IPv4}, {"ipv6", p.IPv6, b.IPv6},
		{"tcp", p.TCP, b.TCP}, {"udp", p.UDP, b.UDP}, {"other_l4", p.OtherL4, b.OtherL4},
		{"ip_fragments", p.Fragments, b.Fragments}, {"non_ip", p.NonIP, b.NonIP},
		{"in", p.In, b.In}, {"out", p.Out, b.Out}, {"unknown_dir", p.Unknown, b.Unknown},
	} {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", row.name, row.pk, row.by)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "rates (per second)\tp50\tp90\tp95\tp99")
	for _, name := range []string{"pps_total", "pps_in", "pps_out", "bps_total", "bps_in", "bps_out"} {
		q := r.Packets.Rates[name]
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\n", name, q.P50, q.P90, q.P95, q.P99)
	}
	q := r.Packets.PayloadSize
	fmt.Fprintf(tw, "frame size\t%.0f\t%.0f\t%.0f\t%.0f\n", q.P50, q.P90, q.P95, q.P99)
	q = r.Flows.RTTMicro
	fmt.Fprintf(tw, "tcp rtt (µs)\t%.0f\t%.0f\t%.0f\t%.0f\n", q.P50, q.P90, q.P95, q.P99)
	fmt.Fprintln(tw)
	c := r.Packets.Cardinality
	fmt.Fprintf(tw, "distinct sources\t%d\t(in: %d)\n", c.SrcIPs, c.SrcIPsIn)
	fmt.Fprintf(tw, "distinct destinations\t%d\t(out: %d)\n", c.DstIPs, c.DstIPsOut)
	f := r.Flows
	fmt.Fprintf(tw, "flows\tcreated %d, active at end %d, evicted %d\n", f.Created, f.ActiveAtClose, f.Evicted)
	fmt.Fprintf(tw, "tcp\tsyn %d, synack %d, handshakes %d, fin %d, rst %d, retransmissions %d, out-of-order %d\n",
		f.TCP.SYN, f.TCP.SYNACK, f.TCP.Handshakes, f.TCP.FIN, f.TCP.Resets, f.TCP.Retransmissions, f.TCP.OutOfOrder)
	tw.Flush()
	top(w, "top IPv4 by packets", r.Packets.TopIPv4)
	top(w, "top IPv6 by packets", r.Packets.TopIPv6)
	top(w, "top server ports by packets", r.Packets.TopPorts)
	top(w, "top conversations by bytes", r.Bytes.TopConversations)
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "device\tin pkts\tin bytes\tout pkts\tout bytes\tother pkts\tother bytes")
	for _, name := range r.DeviceNames() {
		d := r.Devices[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", safe(name), d.In.Packets, d.In.Bytes, d.Out.Packets, d.Out.Bytes, d.Other.Packets, d.Other.Bytes)
	}
	tw.Flush()
	printLoss(w, out)
}

func top(w io.Writer, title string, items []sketch.Item) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, it := range items {
		fmt.Fprintf(tw, "\t%d\t  %s\n", it.Estimate, safe(it.Name))
	}
	tw.Flush()
}

func printLoss(w io.Writer, out *ReadOutput) {
	l := out.Report.Loss
	cs := out.Capture
	var parts []string
	add := func(name string, v uint64) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, v))
		}
	}
	add("filtered_out", cs.FilteredOut)
	add("truncated_records", cs.TruncatedRecords)
	add("bad_records", cs.BadRecords)
	add("snap_truncated", cs.SnapTruncated)
	add("bad_wire_len", cs.BadWireLen)
	add("unsupported_link", l.UnsupportedLink)
	add("flows_evicted", l.FlowsEvicted)
	for k, v := range l.Malformed {
		add("malformed_"+k, v)
	}
	for k, v := range l.FragmentsDropped {
		add("fragments_dropped_"+k, v)
	}
	fmt.Fprintln(w)
	if len(parts) == 0 {
		fmt.Fprintln(w, "loss: none")
		return
	}
	fmt.Fprintf(w, "loss: %s\n", strings.Join(parts, ", "))
}
