module github.com/wirewatch/wirewatch

go 1.26.8

require (
	github.com/DataDog/sketches-go v1.4.8 // indirect
	github.com/axiomhq/hyperloglog v0.3.0 // indirect
	github.com/dgryski/go-metro v0.0.0-20250106013310-edb8663e5e33 // indirect
	github.com/gopacket/gopacket v1.7.7 // indirect
	github.com/kamstrup/intmap v0.5.2 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/term v0.47.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
