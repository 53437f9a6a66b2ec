package sketch

import "unsafe"

// unsafeBytes views s as a byte slice without copying. Only for read-only
// use by functions that do not retain the slice (Hash64, TopK copying a
// key into its own buffer).
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
