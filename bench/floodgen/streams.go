package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
)

// writeStreams writes n never-closing TCP connections, 10.x.y.z:port ->
// 192.168.0.1:80, 100,000 new connections per second of capture time.
func writeStreams(n int, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	w.Write(hdr)

	request := []byte("GET /never/ending HTTP/1.1\r\nHost: flood.example\r\nUser-Agent: floodgen\r\nX-Padding: ")
	for len(request) < 400 {
		request = append(request, 'p')
	}
	beyond := make([]byte, 500) // sent after a 1000-byte hole
	for i := range beyond {
		beyond[i] = 'q'
	}
	frame := make([]byte, 0, 14+20+20+1000)
	rec := make([]byte, 16)
	const start = 1_700_000_000
	write := func(ts int64, src, dst uint32, sport, dport uint16, seq, ack uint32, flags byte, payload []byte) {
		frame = frame[:14+40]
		clear(frame)
		frame[12], frame[13] = 0x08, 0x00
		ip := frame[14:]
		ip[0], ip[8], ip[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
		binary.BigEndian.PutUint32(ip[12:], src)
		binary.BigEndian.PutUint32(ip[16:], dst)
		tcp := frame[34:]
		binary.BigEndian.PutUint16(tcp[0:], sport)
		binary.BigEndian.PutUint16(tcp[2:], dport)
		binary.BigEndian.PutUint32(tcp[4:], seq)
		binary.BigEndian.PutUint32(tcp[8:], ack)
		tcp[12], tcp[13] = 5<<4, flags
		binary.BigEndian.PutUint16(tcp[14:], 64240)
		frame = append(frame, payload...)
		binary.LittleEndian.PutUint32(rec[0:], uint32(start+ts/1e9))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts%1e9/1e3))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		w.Write(rec)
		w.Write(frame)
	}
	const server = 0xc0a80001
	for i := 0; i < n; i++ {
		cli := uint32(10<<24) | uint32(i/1000)
		port := uint16(20000 + i%1000)
		ts := int64(i) * 10_000
		ciss, siss := uint32(i)*7, uint32(i)*13
		write(ts, cli, server, port, 80, ciss, 0, 0x02, nil)
		write(ts+1000, server, cli, 80, port, siss, ciss+1, 0x12, nil)
		write(ts+2000, cli, server, port, 80, ciss+1, siss+1, 0x10, nil)
		write(ts+3000, cli, server, port, 80, ciss+1, siss+1, 0x18, request)
		write(ts+4000, cli, server, port, 80, ciss+1+uint32(len(request))+1000, siss+1, 0x18, beyond)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("floodgen: %w", err)
	}
	return f.Close()
}
