package spool

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The spool's ID names its sequence: kept while the directory lives, new
// when the directory is wiped (the sequence starts at 1 again), new and
// saved when the id file is unreadable, and a torn write of the id file
// (its temporary file, left by a crash) changes nothing.
func TestSpoolID(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	idOf := func() (string, uint64) {
		t.Helper()
		s := mustOpen(t, cfg)
		defer s.Close()
		id := s.ID()
		if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
			t.Fatalf("ID %q is not 32 hex digits", id)
		}
		seq, err := s.Append([]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		onDisk, err := os.ReadFile(filepath.Join(dir, idName))
		if err != nil || string(onDisk) != id+"\n" {
			t.Fatalf("id file %q, %v; want %q", onDisk, err, id)
		}
		return id, seq
	}
	first, seq := idOf()
	if seq != 1 {
		t.Fatalf("first seq %d", seq)
	}
	// A crash while replacing the id file leaves its temporary file.
	if err := os.WriteFile(filepath.Join(dir, idName+tmpExt), []byte("0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	if id, seq := idOf(); id != first || seq != 2 {
		t.Errorf("reopened: ID %q seq %d; want %q, 2", id, seq, first)
	}
	if _, err := os.Stat(filepath.Join(dir, idName+tmpExt)); !os.IsNotExist(err) {
		t.Errorf("the torn id file is still there: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, idName), []byte("not an id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	damaged, _ := idOf()
	if damaged == first {
		t.Error("a malformed id file kept the old ID")
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	wiped, seq := idOf()
	if wiped == first || wiped == damaged || seq != 1 {
		t.Errorf("wiped directory: ID %q seq %d; want a new ID from seq 1", wiped, seq)
	}
}
