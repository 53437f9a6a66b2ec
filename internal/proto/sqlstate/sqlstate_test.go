package sqlstate

import "testing"

// Classes from the SQL standard's and PostgreSQL's SQLSTATE tables.
func TestClientClass(t *testing.T) {
	client := []string{"0A000", "21000", "22012", "23505", "24000", "25001", "26000", "27000", "28P01", "2BP01", "2D000", "2F005", "34000", "3D000", "3F000", "42601", "42P01", "44000"}
	server := []string{"00000", "01000", "02000", "08006", "0B000", "20000", "29000", "30000", "40001", "53100", "54000", "55P03", "57014", "58030", "F0000", "HV000", "HY000", "P0001", "XX000"}
	for _, c := range client {
		if !ClientClass(c[0], c[1]) {
			t.Errorf("%s: the server's, want the client's", c)
		}
	}
	for _, c := range server {
		if ClientClass(c[0], c[1]) {
			t.Errorf("%s: the client's, want the server's", c)
		}
	}
}
