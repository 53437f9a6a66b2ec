package spool

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

// On-disk format (docs/spool.md). A segment file is named after the
// sequence number of its first record, zero-padded to 20 digits so that
// name order is sequence order, and holds consecutive sequence numbers:
//
//	segment = "WWSPOOL\x01" frame*
//	frame   = length u32 | crc u32 | seq u64 | payload[length]   (little endian)
//
// crc is CRC-32C over the length field, the seq field and the payload, so
// a torn or shifted frame fails it whatever part was damaged.
const (
	segMagic       = "WWSPOOL\x01"
	segHeaderLen   = int64(len(segMagic))
	frameHeaderLen = 16
	segSuffix      = ".seg"
	segNameLen     = 20 + len(segSuffix)

	ackMagic = "WWSPACK\x01"
	ackLen   = len(ackMagic) + 8 + 4
	ackName  = "ack"
	idName   = "id"
	lockName = "lock"
	tmpExt   = ".tmp"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxSeq bounds the sequence numbers taken from the directory (file names,
// the acknowledgement file), so that seq+1 never wraps whatever a damaged
// or hostile file says; counting up from 1 never gets there.
const maxSeq = 1 << 62

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// parseSegName accepts exactly the names segName produces, so that one
// sequence number has one file name.
func parseSegName(name string) (uint64, bool) {
	if len(name) != segNameLen || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	digits := name[:20]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v == 0 || v > maxSeq {
		return 0, false
	}
	return v, true
}

type frameHeader struct {
	n   uint32
	crc uint32
	seq uint64
}

func parseFrameHeader(h []byte) frameHeader {
	return frameHeader{
		n:   binary.LittleEndian.Uint32(h[0:4]),
		crc: binary.LittleEndian.Uint32(h[4:8]),
		seq: binary.LittleEndian.Uint64(h[8:16]),
	}
}

// frameCRC is the checksum of a frame whose header is h and payload p.
func frameCRC(h, p []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	return crc32.Update(c, castagnoli, p)
}

// putFrameHeader fills h (frameHeaderLen bytes) for record rec with seq.
func putFrameHeader(h []byte, seq uint64, rec []byte) {
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(h, rec))
}

// plausible reports whether a header could be the frame of seq want
// ending by limit, before its checksum is known.
func (fh frameHeader) plausible(want uint64, off, limit int64) bool {
	return fh.seq == want && fh.n <= maxRecordLimit && off+frameHeaderLen+int64(fh.n) <= limit
}

func encodeAck(acked uint64) []byte {
	b := make([]byte, ackLen)
	copy(b, ackMagic)
	binary.LittleEndian.PutUint64(b[len(ackMagic):], acked)
	binary.LittleEndian.PutUint32(b[ackLen-4:], crc32.Checksum(b[:ackLen-4], castagnoli))
	return b
}

func decodeAck(b []byte) (uint64, error) {
	if len(b) != ackLen || string(b[:len(ackMagic)]) != ackMagic {
		return 0, fmt.Errorf("not an acknowledgement file (%d bytes)", len(b))
	}
	if crc32.Checksum(b[:ackLen-4], castagnoli) != binary.LittleEndian.Uint32(b[ackLen-4:]) {
		return 0, fmt.Errorf("acknowledgement file checksum mismatch")
	}
	v := binary.LittleEndian.Uint64(b[len(ackMagic):])
	if v > maxSeq {
		return 0, fmt.Errorf("acknowledgement position %d out of range", v)
	}
	return v, nil
}

// scanResult is what a full read of a segment found.
type scanResult struct {
	next uint64 // sequence number after the last good record
	good int64  // bytes of the file that hold the header and good records
	lost uint64 // records in the bad tail (best effort, at least 1 when the tail holds a frame's worth)
	seen uint64 // highest seq a plausible header in the bad tail announced, 0 if none
}

// scanSegment checks every frame of a segment of size bytes whose first
// record must be first, and finds where its good part ends. It reads the
// file once, sequentially, and holds at most its buffer in memory whatever
// the lengths claim.
func scanSegment(r io.ReaderAt, size int64, first uint64) scanResult {
	res := scanResult{next: first}
	if size < segHeaderLen {
		return res
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10)
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(br, hdr[:segHeaderLen]); err != nil || string(hdr[:segHeaderLen]) != segMagic {
		if size > segHeaderLen {
			res.lost = 1
		}
		return res
	}
	res.good = segHeaderLen
	for res.good < size {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			break
		}
		fh := parseFrameHeader(hdr[:])
		if !fh.plausible(res.next, res.good, size) {
			break
		}
		c := crc32.Update(0, castagnoli, hdr[0:4])
		c = crc32.Update(c, castagnoli, hdr[8:16])
		ok := true
		for rem := int(fh.n); rem > 0; {
			b, _ := br.Peek(min(rem, br.Size()))
			if len(b) == 0 {
				ok = false
				break
			}
			c = crc32.Update(c, castagnoli, b)
			_, _ = br.Discard(len(b))
			rem -= len(b)
		}
		if !ok || c != fh.crc {
			break
		}
		res.good += frameHeaderLen + int64(fh.n)
		res.next++
	}
	if res.good < size {
		res.lost, res.seen = countTail(r, res.good, size, res.next)
	}
	return res
}

// countTail estimates how many records the bad tail [off, size) held, by
// following plausible headers without checking payloads: a record whose
// payload was damaged still has a usable length. A torn or garbage tail
// counts as one record. Every step advances at least one header, so the
// walk is linear in the tail.
func countTail(r io.ReaderAt, off, size int64, want uint64) (lost, seen uint64) {
	var hdr [frameHeaderLen]byte
	for size-off >= frameHeaderLen {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			break
		}
		fh := parseFrameHeader(hdr[:])
		if fh.seq != want || fh.n > maxRecordLimit {
			break
		}
		lost++
		seen = fh.seq
		want++
		off += frameHeaderLen + int64(fh.n)
		if off > size {
			break
		}
	}
	return max(lost, 1), seen
}
