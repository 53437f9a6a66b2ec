// Package bpfvm runs classic BPF programs (the kind libpcap compiles from a
// tcpdump expression) over packets in user space, with the semantics of
// libpcap's bpf_filter(), which are also the Linux socket-filter semantics
// for the instructions libpcap emits for capture files.
//
// Why our own interpreter: golang.org/x/net/bpf.VM allocates and has no
// notion of a wire length separate from the captured bytes, and calling
// pcap_offline_filter through cgo costs ~100 ns per packet. Files are
// filtered here; live sockets get the same program attached to the kernel.
//
// A program is validated once by New (jumps stay inside the program and only
// go forward, scratch-memory indexes are < 16, division by a zero constant
// and unknown opcodes are refused, the last instruction returns). Run can
// then not loop or index out of range, whatever the program or the packet.
package bpfvm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// MaxInstructions is the kernel's BPF_MAXINSNS: longer programs cannot be
// attached to a socket, and libpcap never emits one.
const MaxInstructions = 4096

// Classic BPF opcode fields (pcap/bpf.h).
const (
	clsLD   = 0x00
	clsLDX  = 0x01
	clsST   = 0x02
	clsSTX  = 0x03
	clsALU  = 0x04
	clsJMP  = 0x05
	clsRET  = 0x06
	clsMISC = 0x07

	szW = 0x00
	szH = 0x08
	szB = 0x10

	mdIMM = 0x00
	mdABS = 0x20
	mdIND = 0x40
	mdMEM = 0x60
	mdLEN = 0x80
	mdMSH = 0xa0

	srcK = 0x00
	srcX = 0x08

	retA = 0x10

	aluADD = 0x00
	aluSUB = 0x10
	aluMUL = 0x20
	aluDIV = 0x30
	aluOR  = 0x40
	aluAND = 0x50
	aluLSH = 0x60
	aluRSH = 0x70
	aluNEG = 0x80
	aluMOD = 0x90
	aluXOR = 0xa0

	jmpJA   = 0x00
	jmpJEQ  = 0x10
	jmpJGT  = 0x20
	jmpJGE  = 0x30
	jmpJSET = 0x40

	miscTAX = 0x00
	miscTXA = 0x80

	memWords = 16
)

// op is a dense renumbering of the opcodes bpf_filter() accepts, so that
// Run's switch compiles to a jump table.
type op uint8

const (
	opLdAbsW op = iota
	opLdAbsH
	opLdAbsB
	opLdIndW
	opLdIndH
	opLdIndB
	opLdLen
	opLdxLen
	opLdImm
	opLdxImm
	opLdMem
	opLdxMem
	opLdxMsh
	opSt
	opStx
	opAddK
	opSubK
	opMulK
	opDivK
	opModK
	opAndK
	opOrK
	opXorK
	opLshK
	opRshK
	opAddX
	opSubX
	opMulX
	opDivX
	opModX
	opAndX
	opOrX
	opXorX
	opLshX
	opRshX
	opNeg
	opJa
	opJeqK
	opJgtK
	opJgeK
	opJsetK
	opJeqX
	opJgtX
	opJgeX
	opJsetX
	opRetK
	opRetA
	opTax
	opTxa
)

// opcodes maps every classic opcode bpf_filter() implements to op. An
// opcode missing here is refused by New (libpcap would abort() on it).
var opcodes = map[uint16]op{
	clsLD | szW | mdABS:  opLdAbsW,
	clsLD | szH | mdABS:  opLdAbsH,
	clsLD | szB | mdABS:  opLdAbsB,
	clsLD | szW | mdIND:  opLdIndW,
	clsLD | szH | mdIND:  opLdIndH,
	clsLD | szB | mdIND:  opLdIndB,
	clsLD | szW | mdLEN:  opLdLen,
	clsLDX | szW | mdLEN: opLdxLen,
	clsLD | mdIMM:        opLdImm,
	clsLDX | mdIMM:       opLdxImm,
	clsLD | mdMEM:        opLdMem,
	clsLDX | mdMEM:       opLdxMem,
	clsLDX | szB | mdMSH: opLdxMsh,
	clsST:                opSt,
	clsSTX:               opStx,

	clsALU | aluADD | srcK: opAddK,
	clsALU | aluSUB | srcK: opSubK,
	clsALU | aluMUL | srcK: opMulK,
	clsALU | aluDIV | srcK: opDivK,
	clsALU | aluMOD | srcK: opModK,
	clsALU | aluAND | srcK: opAndK,
	clsALU | aluOR | srcK:  opOrK,
	clsALU | aluXOR | srcK: opXorK,
	clsALU | aluLSH | srcK: opLshK,
	clsALU | aluRSH | srcK: opRshK,
	clsALU | aluADD | srcX: opAddX,
	clsALU | aluSUB | srcX: opSubX,
	clsALU | aluMUL | srcX: opMulX,
	clsALU | aluDIV | srcX: opDivX,
	clsALU | aluMOD | srcX: opModX,
	clsALU | aluAND | srcX: opAndX,
	clsALU | aluOR | srcX:  opOrX,
	clsALU | aluXOR | srcX: opXorX,
	clsALU | aluLSH | srcX: opLshX,
	clsALU | aluRSH | srcX: opRshX,
	clsALU | aluNEG:        opNeg,

	clsJMP | jmpJA:          opJa,
	clsJMP | jmpJEQ | srcK:  opJeqK,
	clsJMP | jmpJGT | srcK:  opJgtK,
	clsJMP | jmpJGE | srcK:  opJgeK,
	clsJMP | jmpJSET | srcK: opJsetK,
	clsJMP | jmpJEQ | srcX:  opJeqX,
	clsJMP | jmpJGT | srcX:  opJgtX,
	clsJMP | jmpJGE | srcX:  opJgeX,
	clsJMP | jmpJSET | srcX: opJsetX,

	clsRET | srcK: opRetK,
	clsRET | retA: opRetA,

	clsMISC | miscTAX: opTax,
	clsMISC | miscTXA: opTxa,
}

type insn struct {
	op     op
	jt, jf uint8
	k      uint32
}

// Program is a validated classic BPF program. It is immutable, so one
// Program may be run from many goroutines.
type Program struct {
	insns []insn
	raw   []bpf.RawInstruction
}

// ErrEmpty is returned by New for a program without instructions.
var ErrEmpty = errors.New("bpf: empty program")

// New validates raw and prepares it for Run. The checks are those of
// libpcap's bpf_validate() plus what the Linux classic-BPF checker adds
// (full opcode whitelist, constant shifts < 32), so a program New accepts
// also attaches to a socket and never makes bpf_filter() abort.
func New(raw []bpf.RawInstruction) (*Program, error) {
	n := len(raw)
	if n == 0 {
		return nil, ErrEmpty
	}
	if n > MaxInstructions {
		return nil, fmt.Errorf("bpf: program has %d instructions, more than %d", n, MaxInstructions)
	}
	p := &Program{insns: make([]insn, n), raw: append([]bpf.RawInstruction(nil), raw...)}
	for i, r := range raw {
		o, ok := opcodes[r.Op]
		if !ok {
			return nil, fmt.Errorf("bpf: instruction %d: unknown opcode %#x", i, r.Op)
		}
		switch o {
		case opLdMem, opLdxMem, opSt, opStx:
			if r.K >= memWords {
				return nil, fmt.Errorf("bpf: instruction %d: scratch memory index %d out of range", i, r.K)
			}
		case opDivK, opModK:
			if r.K == 0 {
				return nil, fmt.Errorf("bpf: instruction %d: division by constant zero", i)
			}
		case opLshK, opRshK:
			if r.K >= 32 {
				return nil, fmt.Errorf("bpf: instruction %d: shift by %d", i, r.K)
			}
		case opJa:
			// Compare in 64 bits: i+1+K must not wrap around.
			if uint64(i)+1+uint64(r.K) >= uint64(n) {
				return nil, fmt.Errorf("bpf: instruction %d: jump out of program", i)
			}
		case opJeqK, opJgtK, opJgeK, opJsetK, opJeqX, opJgtX, opJgeX, opJsetX:
			if i+1+int(r.Jt) >= n || i+1+int(r.Jf) >= n {
				return nil, fmt.Errorf("bpf: instruction %d: jump out of program", i)
			}
		}
		p.insns[i] = insn{op: o, jt: r.Jt, jf: r.Jf, k: r.K}
	}
	if o := p.insns[n-1].op; o != opRetK && o != opRetA {
		return nil, errors.New("bpf: program does not end with a return")
	}
	if err := p.checkMemory(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkMemory refuses a program that may read a scratch-memory cell before
// any path to the read has written it, as the kernel does
// (check_load_and_stores in net/core/filter.c). libpcap would read stack
// garbage there; refusing keeps Run deterministic and equal to both.
// Jumps only go forward, so one pass suffices: each instruction's set of
// written cells is the intersection over the paths that reach it.
func (p *Program) checkMemory() error {
	const all = 1<<memWords - 1
	masks := make([]uint16, len(p.insns))
	for i := range masks {
		masks[i] = all
	}
	var valid uint16 // cells written on the path that falls through to pc
	for pc, in := range p.insns {
		valid &= masks[pc]
		switch in.op {
		case opSt, opStx:
			valid |= 1 << in.k
		case opLdMem, opLdxMem:
			if valid&(1<<in.k) == 0 {
				return fmt.Errorf("bpf: instruction %d: reads scratch memory %d before it is written", pc, in.k)
			}
		case opJa:
			masks[pc+1+int(in.k)] &= valid
			valid = all // nothing falls through
		case opJeqK, opJgtK, opJgeK, opJsetK, opJeqX, opJgtX, opJgeX, opJsetX:
			masks[pc+1+int(in.jt)] &= valid
			masks[pc+1+int(in.jf)] &= valid
			valid = all
		}
		// Like the kernel, a return does not reset valid: stricter than
		// needed, never wrong.
	}
	return nil
}

// Raw returns the program's instructions (a copy), e.g. to attach it to a
// socket.
func (p *Program) Raw() []bpf.RawInstruction {
	return append([]bpf.RawInstruction(nil), p.raw...)
}

// Len is the number of instructions.
func (p *Program) Len() int { return len(p.insns) }

// Run executes the program over pkt (the captured bytes) and returns what it
// returns: 0 rejects the packet, anything else accepts it (and is the snap
// length the kernel would keep). wireLen is what the program sees as "len"
// (libpcap: the length on the wire, which "greater"/"less" test).
//
// As in bpf_filter() and the kernel, a load outside the captured bytes and a
// division by a zero X end the program with 0 (reject).
func (p *Program) Run(pkt []byte, wireLen int) uint32 {
	var a, x uint32
	var mem [memWords]uint32
	buflen := uint32(len(pkt))
	if uint64(len(pkt)) > 0xffffffff {
		buflen = 0xffffffff
	}
	wl := uint32(wireLen)
	insns := p.insns
	for pc := 0; pc < len(insns); pc++ {
		in := &insns[pc]
		switch in.op {
		case opLdAbsW:
			k := in.k
			if k > buflen || 4 > buflen-k {
				return 0
			}
			a = binary.BigEndian.Uint32(pkt[k:])
		case opLdAbsH:
			k := in.k
			if k > buflen || 2 > buflen-k {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(pkt[k:]))
		case opLdAbsB:
			k := in.k
			if k >= buflen {
				return 0
			}
			a = uint32(pkt[k])
		case opLdIndW:
			if in.k > buflen || x > buflen-in.k {
				return 0
			}
			k := x + in.k
			if 4 > buflen-k {
				return 0
			}
			a = binary.BigEndian.Uint32(pkt[k:])
		case opLdIndH:
			if in.k > buflen || x > buflen-in.k {
				return 0
			}
			k := x + in.k
			if 2 > buflen-k {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(pkt[k:]))
		case opLdIndB:
			if in.k >= buflen || x >= buflen-in.k {
				return 0
			}
			a = uint32(pkt[x+in.k])
		case opLdLen:
			a = wl
		case opLdxLen:
			x = wl
		case opLdImm:
			a = in.k
		case opLdxImm:
			x = in.k
		case opLdMem:
			a = mem[in.k&(memWords-1)]
		case opLdxMem:
			x = mem[in.k&(memWords-1)]
		case opLdxMsh:
			if in.k >= buflen {
				return 0
			}
			x = uint32(pkt[in.k]&0xf) << 2
		case opSt:
			mem[in.k&(memWords-1)] = a
		case opStx:
			mem[in.k&(memWords-1)] = x
		case opAddK:
			a += in.k
		case opSubK:
			a -= in.k
		case opMulK:
			a *= in.k
		case opDivK:
			a /= in.k // New refused k == 0
		case opModK:
			a %= in.k
		case opAndK:
			a &= in.k
		case opOrK:
			a |= in.k
		case opXorK:
			a ^= in.k
		case opLshK:
			a <<= in.k & 31
		case opRshK:
			a >>= in.k & 31
		case opAddX:
			a += x
		case opSubX:
			a -= x
		case opMulX:
			a *= x
		case opDivX:
			if x == 0 {
				return 0
			}
			a /= x
		case opModX:
			if x == 0 {
				return 0
			}
			a %= x
		case opAndX:
			a &= x
		case opOrX:
			a |= x
		case opXorX:
			a ^= x
		case opLshX:
			// libpcap 1.10: a shift by 32 or more gives 0 (Go agrees).
			a <<= x
		case opRshX:
			a >>= x
		case opNeg:
			a = -a
		case opJa:
			pc += int(in.k)
		case opJeqK:
			pc += cond(a == in.k, in)
		case opJgtK:
			pc += cond(a > in.k, in)
		case opJgeK:
			pc += cond(a >= in.k, in)
		case opJsetK:
			pc += cond(a&in.k != 0, in)
		case opJeqX:
			pc += cond(a == x, in)
		case opJgtX:
			pc += cond(a > x, in)
		case opJgeX:
			pc += cond(a >= x, in)
		case opJsetX:
			pc += cond(a&x != 0, in)
		case opRetK:
			return in.k
		case opRetA:
			return a
		case opTax:
			x = a
		case opTxa:
			a = x
		}
	}
	// Unreachable for a validated program (it ends with a return).
	return 0
}

func cond(b bool, in *insn) int {
	if b {
		return int(in.jt)
	}
	return int(in.jf)
}
