package sketch

import (
	"encoding/binary"
	"math/bits"
)

// Hash64 is the deterministic 64-bit hash every wirewatch sketch uses for
// bytes (XXH64, seed 0). It must be the same function in every process: a
// probe's HyperLogLog registers only merge meaningfully with the center's if
// both hashed the same element to the same 64 bits, which rules out
// hash/maphash (per-process seed). XXH64 is a published, well-tested
// function with full 64-bit avalanche, which HyperLogLog needs (it takes the
// register index from the top bits and the rank from the rest).
//
// Changing this function changes the meaning of every Distinct ever encoded,
// so it is pinned by test vectors and by the Distinct encoding version.
func Hash64(b []byte) uint64 {
	const (
		p1 = 0x9E3779B185EBCA87
		p2 = 0xC2B2AE3D27D4EB4F
		p3 = 0x165667B19E3779F9
		p4 = 0x85EBCA77C2B2AE63
		p5 = 0x27D4EB2F165667C5
	)
	n := len(b)
	var h uint64
	if n >= 32 {
		var seed uint64 // XXH64 seed 0, written out so the constants wrap at run time
		v1 := seed + p1 + p2
		v2 := seed + p2
		v3 := seed
		v4 := seed - p1
		for len(b) >= 32 {
			v1 = xxRound(v1, binary.LittleEndian.Uint64(b[0:8]))
			v2 = xxRound(v2, binary.LittleEndian.Uint64(b[8:16]))
			v3 = xxRound(v3, binary.LittleEndian.Uint64(b[16:24]))
			v4 = xxRound(v4, binary.LittleEndian.Uint64(b[24:32]))
			b = b[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) +
			bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxMerge(h, v1)
		h = xxMerge(h, v2)
		h = xxMerge(h, v3)
		h = xxMerge(h, v4)
	} else {
		h = p5
	}
	h += uint64(n)
	for len(b) >= 8 {
		h ^= xxRound(0, binary.LittleEndian.Uint64(b))
		h = bits.RotateLeft64(h, 27)*p1 + p4
		b = b[8:]
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * p1
		h = bits.RotateLeft64(h, 23)*p2 + p3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * p5
		h = bits.RotateLeft64(h, 11) * p1
	}
	h ^= h >> 33
	h *= p2
	h ^= h >> 29
	h *= p3
	h ^= h >> 32
	return h
}

func xxRound(acc, lane uint64) uint64 {
	acc += lane * 0xC2B2AE3D27D4EB4F
	acc = bits.RotateLeft64(acc, 31)
	return acc * 0x9E3779B185EBCA87
}

func xxMerge(acc, v uint64) uint64 {
	acc ^= xxRound(0, v)
	return acc*0x9E3779B185EBCA87 + 0x85EBCA77C2B2AE63
}

// hashString is Hash64 of a string's bytes. The conversion does not allocate
// because Hash64 does not retain its argument.
func hashString(s string) uint64 {
	return Hash64(unsafeBytes(s))
}
