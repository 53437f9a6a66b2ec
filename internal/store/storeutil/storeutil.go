// Package storeutil holds what the center's store backends (store/duckdb
// and store/clickhouse) do alike, apart from their SQL: the validation of
// queries and batches against the store.Store contract, the time columns'
// form, page cursors, the writers' queue, the retention's arithmetic and
// loop, and the checks of their Config fields. Keeping it in one place
// keeps the backends' answers to bad input the same; the SQL dialect of
// each backend stays in the backend.
package storeutil

import (
	"bytes"
	"encoding/gob"
	"fmt"
)

// EncodeGob is v in gob form, for the blob columns (probe info, loss
// counters).
func EncodeGob(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

// DecodeGob reads a blob EncodeGob wrote into v.
func DecodeGob(b []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
}
