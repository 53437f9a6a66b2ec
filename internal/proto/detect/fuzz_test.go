package detect

import (
	"bytes"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// FuzzDetect calls every detector on arbitrary bytes, whole and cut at
// an arbitrary point, in both directions, on the protocol's own port and
// on arbitrary ones. A detector must not panic, must not write to b,
// must answer one of the four verdicts, and may say Maybe off its own
// ports only where the package says so (TFTP transfers in the dynamic
// port range).
func FuzzDetect(f *testing.F) {
	for _, s := range samples {
		f.Add(s.b, uint16(len(s.b)/2), s.port)
	}
	f.Add([]byte{}, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16, port uint16) {
		orig := bytes.Clone(b)
		parts := [][]byte{b}
		if int(cut) < len(b) {
			parts = append(parts, b[:cut], b[cut:])
		}
		for _, p := range All {
			ports := append([]uint16{port, 0, 65535}, p.Ports...)
			for _, part := range parts {
				for _, dir := range []flow.Dir{flow.ClientToServer, flow.ServerToClient} {
					for _, pt := range ports {
						v := p.Detect(part, dir, pt)
						if v > l7.Yes {
							t.Fatalf("%s: verdict %d", p.Name, v)
						}
						if v == l7.Maybe && !onPort(pt, p.Ports) && !(p == TFTP && pt >= 32768) {
							t.Fatalf("%s: Maybe on port %d for %x", p.Name, pt, part)
						}
					}
				}
			}
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("a detector wrote to its input")
		}
	})
}
