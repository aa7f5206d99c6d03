package portmap

import (
	"encoding/binary"
	"hash/fnv"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// The connect shortcut's programs and the layout of their maps. Every
// address is 16 bytes in network order, an IPv4 one as IPv4-mapped IPv6
// (::ffff:a.b.c.d), so that IPv4 and IPv6 sockets share one map; every
// port is 2 bytes in network order.
//
//	ports key (32):   netns cookie (8), address (16), port (2), zeros (6)
//	ports value (32): address (16), port (2), zeros (2), publisher tag (4),
//	                  container tag (4), zeros (4)
//	peer (48):        asked address (16), port (2), zeros (6),
//	                  given address (16), port (2), zeros (6)
const (
	keySize      = 32
	valueSize    = 32
	peerSize     = 48
	valOwner     = 20
	valContainer = 24
	peerGiven    = 24
)

// Offsets in struct bpf_sock_addr and struct bpf_sock (linux/bpf.h).
const (
	saUserIP4  = 4
	saUserIP6  = 8
	saUserPort = 24
	saProtocol = 36
	saSk       = 64
	skSrcIP4   = 24
	skSrcIP6   = 28
)

// The stack of a connect program: the key at fp-32, the peer at fp-80.
const (
	fpKey  = -32
	fpPeer = -80
)

func portKey(cookie uint64, addr netip.Addr, port uint16) []byte {
	k := make([]byte, keySize)
	binary.NativeEndian.PutUint64(k, cookie)
	a := addr.As16()
	copy(k[8:], a[:])
	binary.BigEndian.PutUint16(k[24:], port)
	return k
}

func portValue(addr netip.Addr, port uint16, owner, container uint32) []byte {
	v := make([]byte, valueSize)
	a := addr.As16()
	copy(v, a[:])
	binary.BigEndian.PutUint16(v[16:], port)
	binary.NativeEndian.PutUint32(v[valOwner:], owner)
	binary.NativeEndian.PutUint32(v[valContainer:], container)
	return v
}

// tag is the 32-bit tag of a publisher's table or a container's ID.
func tag(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// connectProgram rewrites the destination of a TCP connect whose
// (namespace, address, port) the ports map holds, and keeps the one asked
// for in the peers storage; it lets every connect through. v6 says which
// hook it is for: connect4 takes IPv4 targets only, connect6 any (an
// IPv4-mapped address connects an IPv6 socket over IPv4).
func connectProgram(ports, peers *ebpf.Map, v6 bool) asm.Instructions {
	insts := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, saProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, unix.IPPROTO_TCP, "out"),
		// A socket bound to an address keeps it: from 127.0.0.1 or ::1
		// the container could not answer.
		asm.LoadMem(asm.R2, asm.R6, saSk, asm.DWord),
	}
	if v6 {
		insts = append(insts, asm.LoadMem(asm.R3, asm.R2, skSrcIP6, asm.Word))
		for i := int16(1); i < 4; i++ {
			insts = append(insts,
				asm.LoadMem(asm.R4, asm.R2, skSrcIP6+4*i, asm.Word),
				asm.Or.Reg(asm.R3, asm.R4))
		}
	} else {
		insts = append(insts, asm.LoadMem(asm.R3, asm.R2, skSrcIP4, asm.Word))
	}
	insts = append(insts,
		asm.JNE.Imm(asm.R3, 0, "miss"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetNetnsCookie.Call(),
		asm.StoreMem(asm.RFP, fpKey, asm.R0, asm.DWord),
	)
	// The address asked for, as the key has it.
	if v6 {
		for i := int16(0); i < 4; i++ {
			insts = append(insts,
				asm.LoadMem(asm.R2, asm.R6, saUserIP6+4*i, asm.Word),
				asm.StoreMem(asm.RFP, fpKey+8+4*i, asm.R2, asm.Word))
		}
	} else {
		insts = append(insts,
			asm.StoreImm(asm.RFP, fpKey+8, 0, asm.Word),
			asm.StoreImm(asm.RFP, fpKey+12, 0, asm.Word),
			asm.StoreImm(asm.RFP, fpKey+16, -0x10000, asm.Word), // 00 00 ff ff
			asm.LoadMem(asm.R2, asm.R6, saUserIP4, asm.Word),
			asm.StoreMem(asm.RFP, fpKey+20, asm.R2, asm.Word))
	}
	insts = append(insts,
		asm.LoadMem(asm.R2, asm.R6, saUserPort, asm.Word),
		asm.StoreMem(asm.RFP, fpKey+24, asm.R2, asm.Half),
		asm.StoreImm(asm.RFP, fpKey+26, 0, asm.Half),
		asm.StoreImm(asm.RFP, fpKey+28, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, ports.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, fpKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "miss"),
		asm.Mov.Reg(asm.R7, asm.R0),
	)
	if !v6 {
		// An IPv4 socket can only be sent to an IPv4 address.
		insts = append(insts,
			asm.LoadMem(asm.R2, asm.R7, 0, asm.DWord),
			asm.JNE.Imm(asm.R2, 0, "miss"),
			asm.LoadMem(asm.R2, asm.R7, 8, asm.Word),
			asm.JNE.Imm32(asm.R2, -0x10000, "miss"))
	}
	// The peer: asked (the key's address and port), given (the value's).
	insts = append(insts,
		asm.LoadMem(asm.R2, asm.RFP, fpKey+8, asm.DWord),
		asm.StoreMem(asm.RFP, fpPeer, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, asm.RFP, fpKey+16, asm.DWord),
		asm.StoreMem(asm.RFP, fpPeer+8, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, asm.RFP, fpKey+24, asm.DWord),
		asm.StoreMem(asm.RFP, fpPeer+16, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, asm.R7, 0, asm.DWord),
		asm.StoreMem(asm.RFP, fpPeer+peerGiven, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, asm.R7, 8, asm.DWord),
		asm.StoreMem(asm.RFP, fpPeer+peerGiven+8, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, asm.R7, 16, asm.Half),
		asm.StoreMem(asm.RFP, fpPeer+peerGiven+16, asm.R2, asm.DWord),
		asm.LoadMapPtr(asm.R1, peers.FD()),
		asm.LoadMem(asm.R2, asm.R6, saSk, asm.DWord),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, fpPeer),
		asm.Mov.Imm(asm.R4, 1), // BPF_SK_STORAGE_GET_F_CREATE
		asm.FnSkStorageGet.Call(),
		// Without the peer kept, getpeername would give the container's
		// address: leave this one to the rules.
		asm.JEq.Imm(asm.R0, 0, "miss"),
	)
	// Storage that was there already, from an earlier connect of the
	// socket, is written afresh.
	for off := int16(0); off < peerSize; off += 8 {
		insts = append(insts,
			asm.LoadMem(asm.R2, asm.RFP, fpPeer+off, asm.DWord),
			asm.StoreMem(asm.R0, off, asm.R2, asm.DWord))
	}
	insts = append(insts, rewrite(asm.R7, 0, v6)...)
	// A TCP connect not rewritten drops what an earlier one of the socket
	// kept: getpeername must not turn its new peer into the old one.
	return append(insts,
		asm.LoadMapPtr(asm.R1, peers.FD()).WithSymbol("miss"),
		asm.LoadMem(asm.R2, asm.R6, saSk, asm.DWord),
		asm.FnSkStorageDelete.Call(),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
	)
}

// peerProgram gives getpeername the address and port that connect was
// asked for, where connectProgram changed them.
func peerProgram(peers *ebpf.Map, v6 bool) asm.Instructions {
	insts := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMapPtr(asm.R1, peers.FD()),
		asm.LoadMem(asm.R2, asm.R6, saSk, asm.DWord),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnSkStorageGet.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
	}
	// Only the peer that connect gave: the socket may have connected
	// again elsewhere since.
	if v6 {
		for i := int16(0); i < 4; i++ {
			insts = append(insts,
				asm.LoadMem(asm.R2, asm.R6, saUserIP6+4*i, asm.Word),
				asm.LoadMem(asm.R3, asm.R0, peerGiven+4*i, asm.Word),
				asm.JNE.Reg(asm.R2, asm.R3, "out"))
		}
	} else {
		insts = append(insts,
			asm.LoadMem(asm.R2, asm.R6, saUserIP4, asm.Word),
			asm.LoadMem(asm.R3, asm.R0, peerGiven+12, asm.Word),
			asm.JNE.Reg(asm.R2, asm.R3, "out"))
	}
	insts = append(insts,
		asm.LoadMem(asm.R2, asm.R6, saUserPort, asm.Word),
		asm.And.Imm(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R0, peerGiven+16, asm.Half),
		asm.JNE.Reg(asm.R2, asm.R3, "out"),
	)
	return append(insts, rewrite(asm.R0, 0, v6)...)
}

// rewrite ends a program whose context is in R6: it writes the address
// and port at src+off (16 bytes, then 2) into the socket address, and
// lets the call through, as "out" does without the change.
func rewrite(src asm.Register, off int16, v6 bool) asm.Instructions {
	var insts asm.Instructions
	if v6 {
		for i := int16(0); i < 4; i++ {
			insts = append(insts,
				asm.LoadMem(asm.R2, src, off+4*i, asm.Word),
				asm.StoreMem(asm.R6, saUserIP6+4*i, asm.R2, asm.Word))
		}
	} else {
		insts = append(insts,
			asm.LoadMem(asm.R2, src, off+12, asm.Word),
			asm.StoreMem(asm.R6, saUserIP4, asm.R2, asm.Word))
	}
	return append(insts,
		asm.LoadMem(asm.R2, src, off+16, asm.Half),
		asm.StoreMem(asm.R6, saUserPort, asm.R2, asm.Word),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
		asm.Return(),
	)
}
