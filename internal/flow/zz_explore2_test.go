package flow

import (
	"fmt"
	"testing"
)

func TestZZFrames(t *testing.T) {
	for _, f := range []string{"pcapplusplus/PcapExamples/example.pcap", "ndpi/android.pcap", "pcapplusplus/PcapExamples/example2.pcap", "ndpi/alexa-app.pcapng"} {
		pk := readCapture(t, f)
		tb := NewTable(DefaultConfig(), nil)
		fmt.Printf("%s retrans:", f)
		for i := range pk {
			ev := tb.Observe(&pk[i])
			if ev.Retransmission { fmt.Printf(" %d", i+1) }
		}
		fmt.Println()
	}
}
