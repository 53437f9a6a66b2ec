package mysql

import (
	"strconv"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/sqli"
)

// Field keys.
const (
	FieldSQLCommand    = "sql_command"
	FieldStatementID   = "statement_id"
	FieldAffectedRows  = "affected_rows"
	FieldLastInsertID  = "last_insert_id"
	FieldRows          = "rows"
	FieldColumns       = "columns"
	FieldErrorMessage  = "error_message"
	FieldSQLState      = "sql_state"
	FieldUser          = "user"
	FieldDatabase      = "database"
	FieldAuth          = "auth"
	FieldServerVersion = "server_version"
	FieldCompressed    = "compressed"
)

var zlibName = []byte("zlib")

func (p *parser) num(i int, v uint64) []byte {
	return strconv.AppendUint(p.nums[i][:0], v, 10)
}

func (p *parser) add(k string, v []byte) {
	p.tx.Fields = append(p.tx.Fields, l7.Field{Key: k, Value: v})
}

// emit hands one transaction to the sink. req or r may be nil; respTS 0
// means the response was not (completely) seen.
func (p *parser) emit(req *request, r *response, respTS int64, out l7.Outcome) {
	t := &p.tx
	*t = l7.Transaction{Outcome: out, Fields: p.fields[:0]}
	cmd := byte(comQuery)
	if req != nil {
		cmd = req.cmd
	} else if r != nil {
		cmd = r.cmd
	}
	if req != nil || !r.noReq {
		t.Op = commandOps[cmd]
	}
	if req != nil {
		t.ReqTS, t.ReqBytes = req.ts, req.bytes
		t.Target = req.text
		if req.trunc {
			t.Flags |= l7.FlagTruncated
		}
		switch cmd {
		case comQuery, comStmtPrepare, comStmtExecute:
			if len(req.text) > 0 {
				if kw := p.sqlCommand(req.text); len(kw) > 0 {
					p.add(FieldSQLCommand, kw)
				}
				if sqli.Check(req.text) {
					t.Flags |= l7.FlagSQLi
				}
			}
		}
		if req.stmt {
			p.add(FieldStatementID, p.num(0, uint64(req.stmtID)))
		}
	}
	if r != nil && r.trunc {
		t.Flags |= l7.FlagTruncated
	}
	if r != nil && respTS != 0 {
		t.RespTS, t.RespBytes = respTS, r.bytes
		if r.prepared && (req == nil || !req.stmt) {
			p.add(FieldStatementID, p.num(0, uint64(r.stmtID)))
		}
		if r.err {
			t.Status = strconv.AppendUint(p.nums[1][:0], uint64(r.code), 10)
		} else {
			if r.ok && r.cols == 0 && !r.prepared {
				p.add(FieldAffectedRows, p.num(1, r.affected))
				if r.insertID != 0 {
					p.add(FieldLastInsertID, p.num(2, r.insertID))
				}
			}
		}
		if r.cols > 0 && !r.prepared {
			p.add(FieldRows, p.num(3, uint64(r.rows)))
			p.add(FieldColumns, p.num(4, uint64(r.cols)))
		}
		if r.err {
			p.add(FieldErrorMessage, r.msg)
			if r.hasState {
				p.add(FieldSQLState, r.state5[:])
			}
		}
	}
	if req != nil && cmd == comInitDB {
		p.add(FieldDatabase, req.text)
	}
	p.ctx.Sink.Transaction(t)
}

// emitLogin emits the login (or COM_CHANGE_USER) exchange; r holds the
// ERR when it failed.
func (p *parser) emitLogin(r *response, ts int64, out l7.Outcome) {
	l := &p.login
	if !l.active {
		return
	}
	l.active = false
	t := &p.tx
	*t = l7.Transaction{Op: l.op, Outcome: out, Fields: p.fields[:0]}
	if l.reqBytes > 0 {
		t.ReqTS, t.ReqBytes = l.ts, l.reqBytes
	}
	if out != l7.OutcomeNoResponse {
		t.RespTS, t.RespBytes = ts, l.resBytes
	}
	if l.trunc {
		t.Flags |= l7.FlagTruncated
	}
	if r != nil && r.err {
		t.Status = strconv.AppendUint(p.nums[1][:0], uint64(r.code), 10)
		p.add(FieldErrorMessage, r.msg)
		if r.hasState {
			p.add(FieldSQLState, r.state5[:])
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
	if len(p.version) > 0 && string(l.op) == "LOGIN" {
		p.add(FieldServerVersion, p.version)
	}
	if out == l7.OutcomeOK && p.clientCaps&capCompress != 0 {
		p.add(FieldCompressed, zlibName)
	}
	p.ctx.Sink.Transaction(t)
}

// sqlCommand returns the first keyword of the SQL text, upper-cased,
// after blanks, comments and opening parentheses.
func (p *parser) sqlCommand(q []byte) []byte {
	return firstKeyword(q, p.kwBuf[:])
}

// firstKeyword writes the first word of q, upper-cased, into buf.
func firstKeyword(q []byte, buf []byte) []byte {
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ';' || c == '\f':
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-', c == '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			i += 2
			for i+1 < len(q) && !(q[i] == '*' && q[i+1] == '/') {
				i++
			}
			i += 2
		default:
			n := 0
			for i < len(q) && n < len(buf) {
				c := q[i]
				if c >= 'a' && c <= 'z' {
					c -= 'a' - 'A'
				} else if !(c >= 'A' && c <= 'Z' || c == '_') {
					break
				}
				buf[n] = c
				n++
				i++
			}
			return buf[:n]
		}
	}
	return nil
}
