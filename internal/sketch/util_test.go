package sketch

import "encoding/binary"

func appendUv(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendV(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }
