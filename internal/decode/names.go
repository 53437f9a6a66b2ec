package decode

var statusNames = [...]string{
	StatusOK:              "ok",
	StatusNotIP:           "not_ip",
	StatusFragment:        "fragment",
	StatusMalformed:       "malformed",
	StatusUnsupportedLink: "unsupported_link",
}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

var tunnelNames = [...]string{
	TunnelNone:   "none",
	TunnelGRE:    "gre",
	TunnelERSPAN: "erspan",
	TunnelVXLAN:  "vxlan",
	TunnelGeneve: "geneve",
	TunnelIPIP:   "ipip",
}

func (t TunnelType) String() string {
	if int(t) < len(tunnelNames) {
		return tunnelNames[t]
	}
	return "unknown"
}
