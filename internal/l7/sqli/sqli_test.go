package sqli

import (
	"strings"
	"testing"
)

// Attacks written in the styles of sqlmap's payloads (boundaries with a
// prefix closing the template's quote or parenthesis and a comment suffix)
// and the OWASP testing guide's examples, as a URL target (percent-decoded)
// or as the SQL text a vulnerable application would send.
var attacks = []string{
	// Tautologies in a URL.
	"/login.php?user=admin' or '1'='1&pass=x",
	"/login.php?user=admin'or'1'='1",
	"/item?id=1 or 1=1",
	"/item?id=1 OR 1=1--",
	`/login?user=" or ""="&pass=" or ""="`,
	"/login?user=' or ''='",
	"/item?id=1' OR 'a'='a",
	"/item?id=1') or ('1'='1",
	"/item?id=1'/**/oR/**/'1'='1",
	"/item?id=1'+or+'1'='1",
	"/item?id=1' || '1'='1",
	"/item?id=1' or 'x' like 'x",
	"/item?id=1 or 2>1",
	"/item?id=-1' or 1-- -",
	"/item?id=1' or true#",
	"/users/1' or '1'='1",
	"http://shop.example/item?id=1' OR '1'='1",
	// Tautologies in SQL text.
	"SELECT * FROM users WHERE name = '' or '1'='1' AND pass = ''",
	"SELECT * FROM users WHERE id = 1 or 1=1",
	`SELECT * FROM users WHERE name = "" or ""="" AND pass = ""`,
	"select * from users where name='' OR 'a'='a'",
	"SELECT * FROM t WHERE id = 5 OR/**/1=1",
	"SELECT * FROM products WHERE id = 10 OR 1 -- x",
	// UNION SELECT.
	"/item?id=-1 union select 1,2,3",
	"/item?id=1' UNION ALL SELECT NULL,NULL,NULL-- -",
	"/item?id=1' union/**/select username,password from users--",
	"/item?id=1 /*!50000UnIoN*/ /*!50000SeLeCt*/ 1,2",
	"/item?id=1' UNION DISTINCT SELECT table_name FROM x#",
	"SELECT name FROM items WHERE id = -1 UNION SELECT 1,2,3",
	"SELECT name, price FROM items WHERE id = 1 UNION ALL SELECT NULL,CONCAT(0x71766a7a71,user(),0x7170716b71)-- -",
	"SELECT a FROM t WHERE id = -1 union select @@version",
	"SELECT a FROM t WHERE id = -1 UNION SELECT version()",
	"SELECT a FROM t WHERE id = -1 UNION SELECT null",
	"SELECT a, b FROM t WHERE name = 'x' UNION SELECT 1,2-- '",
	"SELECT a FROM t WHERE id = -1 union select group_concat(table_name) from information_schema.tables",
	// Comment truncation after a quote.
	"/login?user=admin'--&pass=x",
	"/login?user=admin'#",
	"/login?user=admin'/*",
	"/login?user=admin') -- ",
	`/login?user=admin"--`,
	"SELECT * FROM users WHERE name = 'admin'-- ' AND password = 'x'",
	"SELECT * FROM users WHERE name = 'admin'#' AND password = 'x'",
	"SELECT * FROM users WHERE (name = 'admin')-- ') AND password = 'x'",
	// Stacked queries.
	"/item?id=1; DROP TABLE users",
	"/item?id=1';drop table users--",
	"/item?id=1'; exec master..xp_cmdshell 'dir'--",
	"/item?id=1; shutdown--",
	"/item?id=1;declare @x varchar(99)",
	"INSERT INTO students (name) VALUES ('Robert'); DROP TABLE students;--')",
	"SELECT * FROM t WHERE id = 1; SHUTDOWN",
	"SELECT * FROM t WHERE name = 'a'; DELETE FROM t; -- '",
	// Time and blind probes.
	"/item?id=1 and sleep(5)",
	"/item?id=1' AND SLEEP(5)-- -",
	"/item?id=1' and benchmark(5000000,md5(1))#",
	"/item?id=1';select pg_sleep(5)--",
	"/item?id=1'; waitfor delay '0:0:5'--",
	"/item?id=1 WAITFOR TIME '23:59'",
	"SELECT * FROM t WHERE id = 1 AND SLEEP (5)",
	"SELECT * FROM t WHERE id = 1 AND (SELECT 1 FROM (SELECT(SLEEP(5)))a)",
	"SELECT * FROM t WHERE id = 1; SELECT PG_SLEEP(5)",
	"SELECT * FROM t WHERE id = 1 and BENCHMARK(1000000,SHA1('x'))",
	// xp_cmdshell, load_file, outfile.
	"/q?x=1;exec xp_cmdshell('whoami')",
	"EXEC master..xp_cmdshell 'ping 10.0.0.1'",
	"/item?id=-1 union select load_file('/etc/passwd')",
	"SELECT load_file('/etc/passwd')",
	"SELECT * FROM t WHERE id = 1 UNION SELECT LOAD_FILE(0x2f6574632f706173737764)",
	"/item?id=1' into outfile '/var/www/shell.php'--",
	"SELECT '<?php system($_GET[c]); ?>' INTO OUTFILE '/var/www/html/s.php'",
	"SELECT a FROM t INTO DUMPFILE '/tmp/x'",
	// information_schema.
	"/item?id=1 and 1=(select count(*) from information_schema.tables)",
	"/item?id=1' and (select table_name from information_schema.tables limit 1)='a'--",
	"SELECT * FROM t WHERE id = 1 AND (SELECT COUNT(*) FROM information_schema.tables)>0",
	"SELECT * FROM t WHERE id = 1 OR 1=(SELECT COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS)",
	"SELECT * FROM t WHERE id = -1 UNION SELECT table_name, 1 FROM information_schema.tables",
}

// Ordinary application SQL and URLs that must not be flagged.
var benign = []string{
	"SELECT * FROM users WHERE id = 42",
	"SELECT u.id, u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE o.created_at > '2024-01-01' ORDER BY o.total DESC LIMIT 10",
	"SELECT * FROM t WHERE a = 1 OR b = 2",
	"SELECT * FROM t WHERE status = 'open' OR owner_id = 7",
	"SELECT * FROM t WHERE (a = 1 OR a = 2) AND deleted_at IS NULL",
	"SELECT * FROM t WHERE 1=1 AND name = 'x'",
	"SELECT * FROM t WHERE x = 1 OR 1 = 0",
	"SELECT * FROM t WHERE name = 'x' OR 'a' = 'b'",
	"SELECT * FROM posts WHERE body LIKE '%-- %'",
	"INSERT INTO notes (body) VALUES ('use -- for comments; drop the rest')",
	"INSERT INTO notes (body) VALUES ('it''s a union select of ideas'), ('or 1=1')",
	`INSERT INTO notes (body) VALUES ('say \'hi\' -- ok')`,
	"UPDATE accounts SET note = 'sleep(5) is not a call here' WHERE id = 3",
	"SELECT * FROM t WHERE a = 'x' -- the default tenant\n AND b = 2",
	"SELECT * FROM t WHERE a = 'x' -- the default tenant",
	"-- migration 0042: add index\nCREATE INDEX idx_users_email ON users (email);\n-- done\n",
	"/* controller:users,action:show */ SELECT * FROM users WHERE id = 3",
	"SELECT * FROM users WHERE name = 'bob' /*action='show',controller='users'*/",
	"SELECT a FROM t UNION SELECT b FROM u",
	"SELECT id, name FROM t WHERE x = 1 UNION ALL SELECT id, name FROM archive WHERE x = 1",
	"SELECT id, name FROM categories UNION SELECT 0, 'none'",
	"DROP TABLE IF EXISTS tmp_users; CREATE TABLE tmp_users (id int); INSERT INTO tmp_users VALUES (1);",
	"BEGIN; UPDATE accounts SET balance = balance - 100 WHERE id = 1; UPDATE accounts SET balance = balance + 100 WHERE id = 2; COMMIT;",
	"SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users'",
	"SELECT table_name FROM information_schema.tables WHERE table_name IN (SELECT name FROM wanted)",
	"SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE flag OR other)",
	"CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN -- keep it ' quiet\n NEW.x := 1; DROP TABLE y; RETURN NEW; END; $$ LANGUAGE plpgsql",
	"SELECT `union`, `select` FROM `information_schema_like`",
	"SELECT 'a' || 'b' = 'ab'",
	"SELECT * FROM t WHERE a = $1 OR b = $2",
	"SELECT * FROM users WHERE name = ? AND pass = ?",
	"SET NAMES utf8mb4",
	"SHOW VARIABLES LIKE 'version'",
	"SELECT @@session.transaction_isolation",
	"SELECT version()",
	"SELECT * FROM t WHERE name = 'O''Brien' OR name = 'D''Arcy'",
	"select 1",
	"",
	"/index.html",
	"/search?q=how to union two tables&page=2",
	"/search?q=rock and roll&sort=desc",
	"/blog/2024/it's-a-post?ref=home",
	"/api/v1/users?filter=name eq 'bob'&top=10",
	"/products?ids=1,2,3&order=price",
	"/wiki/Don't_Stop_Me_Now",
	"/files/a--b--c.txt",
	"/q?title=Tom & Jerry",
	"/q?x=a%20b",
	"/select/from/where",
	"/or/1/1",
}

func TestAttacksFlagged(t *testing.T) {
	for _, a := range attacks {
		if !Check([]byte(a)) {
			t.Errorf("not flagged: %q", a)
		}
	}
}

func TestBenignNotFlagged(t *testing.T) {
	for _, b := range benign {
		if Check([]byte(b)) {
			t.Errorf("flagged: %q", b)
		}
	}
}

// The same attacks pasted into a parameter: CheckParam sees the value only.
func TestCheckParam(t *testing.T) {
	for _, v := range []string{"admin' or '1'='1", "1 union select 1,2,3", "x'; drop table t--", `" or ""="`, "admin'#"} {
		if !CheckParam([]byte(v)) {
			t.Errorf("CheckParam(%q) = false", v)
		}
	}
	for _, v := range []string{"O'Brien", "rock and roll", "it's -- fine", "Tom & Jerry", "1,2,3", "a=b"} {
		if CheckParam([]byte(v)) {
			t.Errorf("CheckParam(%q) = true", v)
		}
	}
}

// Case and whitespace variants of every attack that is a URL stay flagged.
func TestVariants(t *testing.T) {
	for _, a := range attacks {
		comments := strings.Contains(a, "/*") || strings.Contains(a, "#") || strings.Contains(a, "--")
		for _, v := range []string{strings.ToUpper(a), strings.ToLower(a), strings.ReplaceAll(a, " ", "\t  "), strings.ReplaceAll(a, " ", "\r\n "), strings.ReplaceAll(a, " ", "/**/")} {
			if comments && v != strings.ToUpper(a) && v != strings.ToLower(a) && !strings.Contains(v, "\t") {
				continue // a newline ends a line comment, and spaces turned into comments nest in /* */
			}
			if !Check([]byte(v)) {
				t.Errorf("variant not flagged: %q (of %q)", v, a)
			}
		}
	}
}

func TestNoAlloc(t *testing.T) {
	in := [][]byte{[]byte(attacks[0]), []byte(benign[1]), []byte(attacks[30]), []byte(benign[25])}
	n := testing.AllocsPerRun(100, func() {
		for _, b := range in {
			Check(b)
		}
	})
	if n != 0 {
		t.Fatalf("Check allocates %.1f times per run", n)
	}
}

// Hostile shapes: unterminated strings, comments and dollar quotes, long
// runs of the same byte. Check must return (linear time) without panicking.
func TestHostile(t *testing.T) {
	for _, s := range []string{"'", `"`, "`", "/*", "--", "#", "$", "$$", "$a", "$a$", "/*!", "*/", "@", "@@", "0x", "'\\", "\\", "/?", "/?&&&==", "/?a='"} {
		Check([]byte(s))
		CheckParam([]byte(s))
	}
	long := strings.Repeat("$abcdefgh", 100000)
	Check([]byte(long))
	Check([]byte(strings.Repeat("'", 1<<20)))
	Check([]byte("/?" + strings.Repeat("a'", 1<<19)))
}

func BenchmarkCheckBenignSQL(b *testing.B) {
	q := []byte("SELECT abalance FROM pgbench_accounts WHERE aid = 43512; UPDATE pgbench_tellers SET tbalance = tbalance + -3212 WHERE tid = 7")
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		Check(q)
	}
}

func BenchmarkCheckURL(b *testing.B) {
	q := []byte("/api/v1/products/search?q=red shoes&category=women's&sort=price&page=3")
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		Check(q)
	}
}

func TestKeywordList(t *testing.T) {
	for _, k := range keywords {
		if lookup([]byte(k)) == kwNone || lookup([]byte(strings.ToUpper(k))) == kwNone {
			t.Errorf("keyword %q not found", k)
		}
	}
	for _, w := range []string{"pgbench_accounts", "ord", "o", "unions", "selec", "x"} {
		if lookup([]byte(w)) != kwNone {
			t.Errorf("%q is a keyword", w)
		}
	}
}

// The fast path for plain URLs must not hide any attack: as a URL path,
// as a query value, and as the whole URL.
func TestPlainURLHidesNoAttack(t *testing.T) {
	for _, a := range attacks {
		for _, u := range []string{a, "/item/" + a, "/search?q=" + a, "http://h/p?x=1&id=" + a} {
			if isURL([]byte(u)) && plainURL([]byte(u)) && checkURL([]byte(u)) {
				t.Errorf("%q is flagged by the full check but skipped as plain", u)
			}
		}
	}
	for _, u := range []string{"/api/item23.json", "/a/b-c/d_e.html?x=1&y=two", "/static/app.min.js?v=3.2.1"} {
		if !plainURL([]byte(u)) {
			t.Errorf("%q should take the fast path", u)
		}
	}
}
