package dubbo

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// hessianLogin is the request of deepflow dubbo_hessian2.pcap (login with
// an sw8 attachment), and hessianLoginResp its response.
var hessianLogin, _ = hex.DecodeString(
	"dabbc2000000000000005958000000f805322e302e321b6d792e64656d6f2e736572766963652e557365725365727669" +
		"636505302e302e30056c6f67696e30244c6a6176612f6c616e672f537472696e673b4c6a6176612f6c616e672f537472" +
		"696e673b0b3133373830343037363037067833235539264804706174681b6d792e64656d6f2e736572766963652e5573" +
		"6572536572766963651272656d6f74652e6170706c69636174696f6e0873686f702d776562057377382d780130037377" +
		"38000f7377382d636f7272656c6174696f6e0009696e746572666163651b6d792e64656d6f2e736572766963652e5573" +
		"6572536572766963650776657273696f6e05302e302e305a")

var hessianLoginResp, _ = hex.DecodeString(
	"dabb02140000000000005958000000bf94431d6d792e64656d6f2e736572766963652e53657276696365526573756c74" +
		"9306726573756c74076d65737361676507737563636573736043136d792e64656d6f2e656e746974792e55736572960a" +
		"6c6173745570646174650963726561746564417405656d61696c066d6f62696c65086e69636b6e616d65067573657249" +
		"64614a0000017cdcce0e004a0000017cde858200000b31333738303430373630370b3133372a2a2a2a37363037f81700" +
		"544805647562626f05322e302e325a")

// TestSeeds: the transcribed capture messages decode (the response's
// value: a ServiceResult object holding a User object, rendered by the
// same reader the arguments use).
func TestSeeds(t *testing.T) {
	s := run(t, func(c *l7.Context) { c.KeepCredentials = true }, []step{data(c2s, ms, hessianLogin), data(s2c, 2*ms, hessianLoginResp)}, 0, 3*ms)
	if len(s.Txs) != 1 || string(s.Txs[0].Op) != "login" || field(s.Txs[0], FieldArgs) != `"13780407607", "x3#U9&"` || field(s.Txs[0], FieldResponseType) != "value" {
		t.Fatalf("%+v", s.Txs)
	}
	var rd hreader
	rd.reset(hessianLoginResp[headerLen+1:])
	o := &out{limit: l7.MaxField}
	rd.value(o, 0)
	// Decoded by hand from the bytes: class ServiceResult{result,
	// message, success}; result is class User{...} with dates
	// 0x17cdcce0e00 and 0x17cde858200 ms, email and message the empty
	// string (0x00), userId the compact long f8 17.
	want := `ServiceResult{result: User{lastUpdate: 2021-11-01T18:41:04.000Z, createdAt: 2021-11-02T02:41:04.000Z, ` +
		`email: "", mobile: "13780407607", nickname: "137****7607", userId: 23}, message: "", success: true}`
	if string(o.b) != want || rd.failed() {
		t.Errorf("response value\n got %s\nwant %s", o.b, want)
	}
}

func fuzzSeeds() (c2sSeeds, s2cSeeds [][]byte) {
	exc := cat(hint(0), hclassDef("java.lang.RuntimeException", "detailMessage"), hobject(0, hchunked("boom boom", 4)))
	c2sSeeds = [][]byte{
		hessianLogin,
		hreq(1, "com.example.UserService", "find", "Ljava/lang/String;IZLjava/lang/Object;Ljava/util/List;Ljava/util/Map;Lcom/example/User;Lcom/example/User;", userArgs,
			hstr("sw8"), hstr("1-"+b64s("t")+"-"+b64s("s")+"-1-a-b-c-d")),
		frame(flagRequest|flagTwoWay|flagEvent|serHessian2, 0, 2, []byte{'N'}),
		frame(flagRequest|flagTwoWay|serFastjson, 0, 3, []byte("\"2.0.2\"\n\"S\"\n\"1\"\n\"m\"\n\"I\"\n4\n{\"traceparent\":\"00-a-b-01\"}\n")),
		deepflowFastjson2,
	}
	s2cSeeds = [][]byte{
		hessianLoginResp,
		hresp(1, 20, exc),
		hresp(2, 70, hstr("service error")),
		frame(serKryo, 20, 3, []byte{2}),
	}
	return
}

// FuzzDubbo feeds random bytes in both directions, cut at random points,
// interleaved with gaps, then ends the flow: nothing may panic, every
// transaction must be well formed, buffering and pending requests stay
// within their limits, and no more bytes are counted as dropped than were
// fed.
func FuzzDubbo(f *testing.F) {
	cs, ss := fuzzSeeds()
	f.Add([]byte{0x10, 0x31, 0x22, 0x05, 0x40}, bytes.Join(cs, nil), bytes.Join(ss, nil))
	f.Add([]byte{0xff, 0x00}, cs[1], ss[1])
	f.Add([]byte{0x81, 0x02, 0x93}, cs[0], ss[0])
	f.Add([]byte{}, cs[0][:30], cs[0][30:])
	f.Fuzz(func(t *testing.T, ctl, a, b []byte) {
		const maxMsg, maxPend = 400, 3
		p, s := newParser(t, func(c *l7.Context) {
			c.MaxMessage, c.MaxPending, c.Timeout = maxMsg, maxPend, 50
			c.KeepCredentials = len(ctl) > 0 && ctl[0]&1 != 0
		})
		streams := [2][]byte{a, b}
		fed := 0
		ts := int64(1)
		for i := 0; len(streams[0])+len(streams[1]) > 0; i++ {
			c := byte(i * 37)
			if len(ctl) > 0 {
				c = ctl[i%len(ctl)]
			}
			dir := flow.Dir(c >> 7)
			if len(streams[dir]) == 0 {
				dir = 1 - dir
			}
			ts += int64(c & 0x0f)
			if c&0x70 == 0x70 {
				n := min(1+int(c&0x07), len(streams[dir]))
				if c&0x08 != 0 {
					p.Gap(dir, -1, ts)
				} else {
					p.Gap(dir, int64(n), ts)
				}
				streams[dir] = streams[dir][n:]
				continue
			}
			n := min(len(streams[dir]), 1+int(c&0x3f)*int(c&0x3f))
			p.Data(dir, streams[dir][:n], ts)
			fed += n
			streams[dir] = streams[dir][n:]
			for d := range flow.Dir(2) {
				if held(&p.fr, d, 0) > maxMsg || held(&p.fr, d, 1) > maxMsg {
					t.Fatalf("buffered %d/%d bytes", held(&p.fr, d, 0), held(&p.fr, d, 1))
				}
			}
			if p.pending.Len() > maxPend {
				t.Fatalf("%d pending", p.pending.Len())
			}
		}
		p.End(ts + 1)
		if p.pending.Len() != 0 {
			t.Fatal("pending after End")
		}
		total := 0
		for _, d := range s.Drops {
			total += d
		}
		if total > fed {
			t.Fatalf("dropped %d of %d bytes", total, fed)
		}
	})
}

// FuzzHessian runs the Hessian reader (rendering and skipping), the
// request and response body decoders of every serialization, and the
// Kryo and JSONB string readers over random bytes.
func FuzzHessian(f *testing.F) {
	cs, ss := fuzzSeeds()
	for _, m := range append(cs, ss...) {
		f.Add(m[headerLen:])
	}
	for _, a := range userArgs {
		f.Add(a)
	}
	f.Add(cat([]byte{'V'}, hstr("[int"), hint(3), hint(1), hint(2), hint(3), []byte{'M'}, hstr("java.util.HashMap"), hstr("a"), []byte{'Q', 0x90}, []byte{'Z'}))
	f.Add(cat([]byte{'A', 0, 2, 1, 2, 'B', 0, 1, 9}, []byte{0x23, 1, 2, 3}, []byte{0x34, 5, 1, 2, 3, 4, 5}, []byte{'J', 0, 0, 1, 0x7c, 0xdc, 0xce, 0x0e, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rd hreader
		for _, redact := range []bool{false, true} {
			rd.reset(b)
			o := &out{limit: l7.MaxField, redact: redact}
			for i := 0; i < 64 && !rd.failed() && rd.off < len(b); i++ {
				before := rd.off
				rd.value(o, 0)
				if rd.off <= before && !rd.failed() {
					t.Fatalf("value consumed nothing at %d", before)
				}
				if rd.off > len(b) {
					t.Fatalf("offset %d beyond %d", rd.off, len(b))
				}
			}
			if len(o.b) > l7.MaxField+64 {
				t.Fatalf("rendered %d bytes", len(o.b))
			}
			if len(rd.classes) > maxClasses || len(rd.fields) > maxFields || len(rd.types) > maxTypes || len(rd.scratch) > maxChunked {
				t.Fatalf("tables %d %d %d %d", len(rd.classes), len(rd.fields), len(rd.types), len(rd.scratch))
			}
		}
		rd.reset(b)
		rd.exception()
		p, _ := newParser(t, nil)
		for _, ser := range []byte{serHessian2, serKryo, serFastjson, serFastjson2} {
			r := p.newRequest()
			r.ser = ser
			switch ser {
			case serHessian2:
				p.hessianRequest(b, r)
			case serKryo:
				kryoRequest(b, r)
			case serFastjson:
				jsonRequest(b, r)
			case serFastjson2:
				jsonbRequest(b, r)
			}
			for _, sp := range []span{r.version, r.service, r.sversion, r.method, r.argTypes, r.args, r.traceID, r.spanID} {
				if sp.off < 0 || sp.end > int32(len(r.arena)) || int(sp.end-sp.off) > l7.MaxField {
					t.Fatalf("span %v of %d", sp, len(r.arena))
				}
			}
			for _, status := range []byte{20, 40} {
				rs := response{ser: ser, status: status, respType: -1}
				p.parseResponse(b, &rs)
				if len(rs.errmsg) > l7.MaxField || rs.respType > 5 {
					t.Fatalf("response %+v", rs)
				}
			}
			p.release(r)
		}
		if s, n, ok := kryoString(b); ok && (n > len(b) || len(s) > n) {
			t.Fatalf("kryo string %d of %d", n, len(b))
		}
		if s, n, ok := jsonbString(b); ok && (n > len(b) || len(s) > n) {
			t.Fatalf("jsonb string %d of %d", n, len(b))
		}
		Detect(b, flow.ClientToServer, 20880)
		resync(b)
	})
}
