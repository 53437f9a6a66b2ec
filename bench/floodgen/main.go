// Command floodgen writes the inputs of the flood benchmarks:
//
//   - default: TCP SYNs, each from a distinct 5-tuple (bench/flowflood.sh);
//   - -streams: TCP connections that never close (bench/streamflood.sh):
//     a handshake, the start of an HTTP request whose header never ends
//     (the parser has to hold it) and a segment beyond a hole (the
//     reassembler has to hold it), per connection.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
)

func main() {
	n := flag.Int("n", 5_000_000, "number of distinct 5-tuples (one SYN each)")
	out := flag.String("o", "flood.pcap", "output file")
	streams := flag.Bool("streams", false, "write never-closing TCP streams instead of SYNs")
	flag.Parse()
	if *streams {
		if err := writeStreams(*n, *out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	w.Write(hdr)
	frame := make([]byte, 14+20+20)
	frame[12], frame[13] = 0x08, 0x00
	ip := frame[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	tcp := frame[34:]
	tcp[12], tcp[13] = 5<<4, 0x02 // SYN
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	rec := make([]byte, 16)
	const start = 1_700_000_000
	for i := 0; i < *n; i++ {
		// 10.0.0.0/8 sources x 1000 source ports -> distinct tuples.
		src := uint32(10<<24) | uint32(i/1000)
		binary.BigEndian.PutUint32(ip[12:], src)
		binary.BigEndian.PutUint32(ip[16:], 0xc0a80001) // 192.168.0.1
		binary.BigEndian.PutUint16(tcp[0:], uint16(20000+i%1000))
		binary.BigEndian.PutUint16(tcp[2:], 443)
		binary.BigEndian.PutUint32(tcp[4:], uint32(i))
		// 100,000 new flows per second of capture time.
		ts := int64(i) * 10_000 // ns
		binary.LittleEndian.PutUint32(rec[0:], uint32(start+ts/1e9))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts%1e9/1e3))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		w.Write(rec)
		w.Write(frame)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.Close()
}
