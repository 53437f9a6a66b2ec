package decode

import "strconv"

// ProtoName names a transport protocol number for reports and logs:
// "tcp", "udp", "icmp", "icmpv6", "sctp", "gre", else the number.
func ProtoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	case ProtoSCTP:
		return "sctp"
	case ProtoGRE:
		return "gre"
	}
	return strconv.Itoa(int(p))
}
