// Package registry lists the application-layer protocols the probe
// detects and decodes, in detection order: protocols with unambiguous
// signatures first, so that a weak detector never claims their flows.
// Adding a protocol is its package plus one line here.
package registry

import (
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/proto/detect"
	"github.com/wirewatch/wirewatch/internal/proto/dns"
	"github.com/wirewatch/wirewatch/internal/proto/dubbo"
	"github.com/wirewatch/wirewatch/internal/proto/http"
	"github.com/wirewatch/wirewatch/internal/proto/http2"
	"github.com/wirewatch/wirewatch/internal/proto/kafka"
	"github.com/wirewatch/wirewatch/internal/proto/mongodb"
	"github.com/wirewatch/wirewatch/internal/proto/mysql"
	"github.com/wirewatch/wirewatch/internal/proto/postgres"
	"github.com/wirewatch/wirewatch/internal/proto/redis"
	"github.com/wirewatch/wirewatch/internal/proto/tls"
)

// All returns the registered protocols in detection order.
func All() []*l7.Protocol {
	return append([]*l7.Protocol{
		tls.Protocol,
		http2.Protocol, // before HTTP/1: its preface is a request line too
		http.Protocol,
		dns.Protocol,
		mysql.Protocol,
		postgres.Protocol,
		redis.Protocol,
		mongodb.Protocol,
		dubbo.Protocol,
		kafka.Protocol, // its header checks are the weakest evidence: last of the decoders
	}, detect.All...)
}
