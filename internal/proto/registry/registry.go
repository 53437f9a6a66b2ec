// Package registry lists the application-layer protocols the probe
// detects and decodes, in detection order: protocols with unambiguous
// signatures first, so that a weak detector never claims their flows.
// Adding a protocol is its package plus one line here.
package registry

import (
	"github.com/wirewatch/wirewatch/internal/l7"
)

// All returns the registered protocols in detection order.
func All() []*l7.Protocol {
	return []*l7.Protocol{}
}
