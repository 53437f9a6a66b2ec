package clickhouse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client speaks ClickHouse's HTTP interface: statements in the request
// body, results and inserted rows in RowBinary. The native protocol of
// the ClickHouse versions still shipped by distributions (18.16 in Debian
// 12) is too old for the Go drivers, and HTTP is enough: a batch is one
// insert per table.
type client struct {
	base     string // scheme://host:port/path, without query
	database string
	user     string
	password string
	hc       *http.Client
	// maxExec is sent as max_execution_time, so that the server stops a
	// query the client gave up on.
	maxExec     time.Duration
	maxResponse int64
}

func newClient(cfg Config) (*client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: URL: %w", err)
	}
	u.RawQuery, u.Fragment = "", ""
	tr := &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		// ClickHouse closes an idle keep-alive connection after 3 s (its
		// keep_alive_timeout): drop ours before, so that a request never
		// goes out on a connection the server is closing.
		IdleConnTimeout:     2 * time.Second,
		MaxIdleConnsPerHost: 8,
		TLSHandshakeTimeout: cfg.DialTimeout,
	}
	return &client{
		base:        u.String(),
		database:    cfg.Database,
		user:        cfg.User,
		password:    cfg.Password,
		hc:          &http.Client{Transport: tr},
		maxExec:     cfg.QueryTimeout,
		maxResponse: cfg.MaxResponseBytes,
	}, nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// serverError is an error answered by the server (as opposed to one of
// the connection).
type serverError struct {
	status int
	msg    string
}

func (e *serverError) Error() string {
	return fmt.Sprintf("clickhouse: server answered %d: %s", e.status, e.msg)
}

// do sends one request. query goes in the URL (inserts, whose body is
// data), stmt in the body; withDB selects the store's database.
func (c *client) do(ctx context.Context, query string, body []byte, withDB, idempotent bool) ([]byte, error) {
	v := url.Values{}
	if withDB {
		v.Set("database", c.database)
	}
	if query != "" {
		v.Set("query", query)
	}
	if c.maxExec > 0 {
		v.Set("max_execution_time", strconv.Itoa(int((c.maxExec+time.Second-1)/time.Second)))
	}
	// The whole answer is computed before it is sent, so that an error
	// in the middle of a result comes as an error status, not as text
	// appended to half a RowBinary stream.
	v.Set("wait_end_of_query", "1")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"?"+v.Encode(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	req.Header.Set("X-ClickHouse-User", c.user)
	if c.password != "" {
		req.Header.Set("X-ClickHouse-Key", c.password)
	}
	if idempotent {
		// Lets net/http resend a read on a fresh connection when a kept
		// alive one turns out closed. Inserts are never resent: the
		// caller decides (a resent insert would store rows twice).
		req.Header.Set("Idempotency-Key", "read")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		return nil, &serverError{status: resp.StatusCode, msg: firstLine(b)}
	}
	out, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("clickhouse: reading the answer: %w", err)
	}
	if int64(len(out)) > c.maxResponse {
		return nil, fmt.Errorf("clickhouse: answer larger than MaxResponseBytes (%d)", c.maxResponse)
	}
	return out, nil
}

// firstLine keeps the useful part of a server error (its exception text
// is one line, followed by a stack trace on some versions).
func firstLine(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if sc.Scan() {
		return strings.TrimSpace(sc.Text())
	}
	return strings.TrimSpace(string(b))
}

// exec runs a statement that returns nothing (DDL, ALTER, INSERT SELECT).
func (c *client) exec(ctx context.Context, stmt string) error {
	_, err := c.do(ctx, "", []byte(stmt), true, false)
	return err
}

// execNoDB runs a statement outside the store's database (creating it).
func (c *client) execNoDB(ctx context.Context, stmt string) error {
	_, err := c.do(ctx, "", []byte(stmt), false, false)
	return err
}

// query runs a SELECT and returns its rows in RowBinary.
func (c *client) query(ctx context.Context, stmt string) (*decoder, error) {
	b, err := c.do(ctx, "", []byte(stmt+" FORMAT RowBinary"), true, true)
	if err != nil {
		return nil, err
	}
	return &decoder{b: b}, nil
}

// queryNoDB runs a SELECT outside the store's database (which may not
// exist yet).
func (c *client) queryNoDB(ctx context.Context, stmt string) (*decoder, error) {
	b, err := c.do(ctx, "", []byte(stmt+" FORMAT RowBinary"), false, true)
	if err != nil {
		return nil, err
	}
	return &decoder{b: b}, nil
}

// insert appends RowBinary rows to table (columns in cols' order).
func (c *client) insert(ctx context.Context, table, cols string, rows []byte) error {
	_, err := c.do(ctx, "INSERT INTO "+table+" ("+cols+") FORMAT RowBinary", rows, true, false)
	return err
}
