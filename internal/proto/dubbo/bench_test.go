package dubbo

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

type nopSink struct{ txs, drops int }

func (s *nopSink) Transaction(*l7.Transaction) { s.txs++ }
func (s *nopSink) Drop(l7.DropReason, int)     { s.drops++ }
func (s *nopSink) Stop()                       {}

// BenchmarkParse: request/response pairs through Data, in steady state.
// Each op is one transaction; bytes are both messages.
func BenchmarkParse(b *testing.B) {
	sw8 := "1-" + b64s("c8164cae90e94fe68493c106ea95f1ee.66.16667985488510067") + "-" + b64s("c8164cae90e94fe68493c106ea95f1ee.66.16667985488510066") +
		"-3-" + b64s("shop-web") + "-" + b64s("inst@10.71.0.135") + "-" + b64s("/shop/full-test") + "-" + b64s("10.71.0.136:20880")
	kryoReq := frame(flagRequest|flagTwoWay|serKryo, 0, 1, []byte("2.8.\xb4com.zznode.itms.api.OFOPServe\xf21.0.\xb0sendOfopMs\xe7\x00\x00\x00\x02"))
	cases := []struct {
		name      string
		req, resp []byte
		split     bool
	}{
		{"hessian-login", hessianLogin, hessianLoginResp, false},
		{"hessian-args-sw8", hreq(1, "com.example.UserService", "find",
			"Ljava/lang/String;IZLjava/lang/Object;Ljava/util/List;Ljava/util/Map;Lcom/example/User;Lcom/example/User;", userArgs,
			hstr("path"), hstr("com.example.UserService"), hstr("sw8"), hstr(sw8)), hresp(1, 20, cat(hint(4), hstr("ok"), hmap())), false},
		{"hessian-split", hessianLogin, hessianLoginResp, true},
		{"kryo", kryoReq, frame(serKryo, 20, 1, []byte{2}), false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := &nopSink{}
			ctx := l7.DefaultConfig().Context(l7.TCP)
			ctx.Sink = s
			p := New(ctx)
			b.SetBytes(int64(len(tc.req) + len(tc.resp)))
			b.ReportAllocs()
			ts := int64(1)
			for b.Loop() {
				ts++
				if tc.split {
					h := len(tc.req) / 2
					p.Data(c2s, tc.req[:h], ts)
					p.Data(c2s, tc.req[h:], ts)
					h = len(tc.resp) / 3
					p.Data(s2c, tc.resp[:h], ts)
					p.Data(s2c, tc.resp[h:], ts)
				} else {
					p.Data(c2s, tc.req, ts)
					p.Data(s2c, tc.resp, ts)
				}
			}
			if s.txs < b.N || s.drops != 0 {
				b.Fatalf("%d transactions, %d drops for %d ops", s.txs, s.drops, b.N)
			}
		})
	}
}

func BenchmarkDetect(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Detect(hessianLogin, c2s, 20880)
	}
}
