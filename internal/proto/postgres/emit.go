package postgres

import (
	"strconv"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/sqli"
)

// Field keys.
const (
	FieldCommandTag    = "command_tag"
	FieldRows          = "rows"
	FieldStatement     = "statement"
	FieldErrorMessage  = "error_message"
	FieldSeverity      = "severity"
	FieldUser          = "user"
	FieldDatabase      = "database"
	FieldAuth          = "auth"
	FieldServerVersion = "server_version"
)

func (p *parser) add(k string, v []byte) {
	p.tx.Fields = append(p.tx.Fields, l7.Field{Key: k, Value: v})
}

// emitItem hands one transaction to the sink: it (nil for a response
// without request) and r (nil or respTS 0 without response).
func (p *parser) emitItem(it *item, r *resp, respTS int64, out l7.Outcome) {
	if it != nil && it.kind == kSync && it.hasExec {
		return // its Executes are the transactions
	}
	t := &p.tx
	*t = l7.Transaction{Outcome: out, Fields: p.fields[:0]}
	if it != nil {
		t.Op, t.ReqTS, t.ReqBytes, t.Target = it.op, it.ts, it.bytes, it.text
		if t.Op == nil {
			t.Op = opSync
		}
		if it.trunc {
			t.Flags |= l7.FlagTruncated
		}
		if len(it.text) > 0 && sqli.Check(it.text) {
			t.Flags |= l7.FlagSQLi
		}
	} else {
		t.Op = opExecute
	}
	if r != nil && respTS != 0 {
		t.RespTS, t.RespBytes = respTS, r.bytes
		if len(r.tag) > 0 {
			p.add(FieldCommandTag, r.tag)
		}
		switch {
		case r.hasRows:
			p.add(FieldRows, strconv.AppendInt(p.nums[0][:0], r.tagRows, 10))
		case r.dataRows > 0:
			p.add(FieldRows, strconv.AppendInt(p.nums[0][:0], r.dataRows, 10))
		}
	}
	if it != nil && it.stmt.n > 0 {
		// Copied: the item is a local value, and a slice of it would
		// make every item escape to the heap.
		p.add(FieldStatement, p.stmtName[:copy(p.stmtName[:], it.stmt.bytes())])
	}
	if r != nil && r.err.set && respTS != 0 {
		t.Status = p.code[:copy(p.code[:], r.err.code[:])]
		p.add(FieldErrorMessage, r.err.msg)
		if len(r.err.severity) > 0 {
			p.add(FieldSeverity, r.err.severity)
		}
		if r.err.trunc {
			t.Flags |= l7.FlagTruncated
		}
	}
	p.ctx.Sink.Transaction(t)
}

func (p *parser) emitLogin(ts int64, out l7.Outcome, e *errInfo) {
	l := &p.login
	if !l.active {
		return
	}
	l.active = false
	t := &p.tx
	*t = l7.Transaction{Op: opLogin, ReqTS: l.ts, ReqBytes: l.reqBytes, Outcome: out, Fields: p.fields[:0]}
	if out != l7.OutcomeNoResponse {
		t.RespTS, t.RespBytes = ts, l.resBytes
	}
	if l.trunc {
		t.Flags |= l7.FlagTruncated
	}
	if e != nil && e.set {
		t.Status = p.code[:copy(p.code[:], e.code[:])]
		p.add(FieldErrorMessage, e.msg)
		if len(e.severity) > 0 {
			p.add(FieldSeverity, e.severity)
		}
	}
	if len(l.user) > 0 {
		p.add(FieldUser, l.user)
	}
	if len(l.db) > 0 {
		p.add(FieldDatabase, l.db)
	}
	if l.auth {
		if p.ctx.KeepCredentials {
			p.add(FieldAuth, l.authData)
		} else {
			p.add(FieldAuth, l7.Redacted)
			t.Flags |= l7.FlagRedacted
		}
	}
	if len(p.version) > 0 {
		p.add(FieldServerVersion, p.version)
	}
	p.ctx.Sink.Transaction(t)
}
