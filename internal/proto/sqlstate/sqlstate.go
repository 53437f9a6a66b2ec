// Package sqlstate judges SQLSTATE error codes (SQL standard, as MySQL and
// PostgreSQL report them) for the SQL protocol parsers: whether an error
// is the client's (its statement or data) or the server's.
package sqlstate

// ClientClass reports whether the SQLSTATE class ab (the code's first two
// characters) blames the statement or its data: 0A feature not supported,
// 21 cardinality, 22 data, 23 integrity constraint, 24 cursor state, 25
// transaction state, 26 statement name, 27 triggered data change, 28
// authorization, 2B/2D/2F dependent privilege, transaction termination,
// routine, 34 cursor name, 3D catalog, 3F schema, 42 syntax or access rule,
// 44 check option. The rest (HY general errors, 08 connection, 40
// rollback, 53 resources, 54 limits, 55 object state, 57 operator
// intervention, 58 system, F0, HV, P0, XX internal) are the server's.
func ClientClass(a, b byte) bool {
	switch a {
	case '0':
		return b == 'A'
	case '2':
		return b >= '1' && b <= '8' || b == 'B' || b == 'D' || b == 'F'
	case '3':
		return b == '4' || b == 'D' || b == 'F'
	case '4':
		return b == '2' || b == '4'
	}
	return false
}
