package spool

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func benchConfig(b *testing.B) Config {
	cfg := DefaultConfig(b.TempDir())
	cfg.MaxBytes = 256 << 20
	cfg.SyncEvery = time.Second
	return cfg
}

// BenchmarkAppend measures Append throughput with the default fsync
// interval (1s), including segment rotation and, once the 256 MiB bound is
// reached, dropping the oldest segments.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := mustOpen(b, benchConfig(b))
			defer s.Close()
			rec := payload(1, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Append(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNextAck measures the reader: Next then Ack of each record, the
// records having been appended (outside the timer) in batches of 1000.
func BenchmarkNextAck(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := mustOpen(b, benchConfig(b))
			defer s.Close()
			rec := payload(1, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			left := 0
			for b.Loop() {
				if left == 0 {
					b.StopTimer()
					for range 1000 {
						if _, err := s.Append(rec); err != nil {
							b.Fatal(err)
						}
					}
					// fsync here, not in the timed Next: the disk is not what
					// this measures.
					s.syncActive()
					left = 1000
					b.StartTimer()
				}
				seq, got, err := s.Next(ctx)
				if err != nil || len(got) != size {
					b.Fatalf("Next: %d bytes, %v", len(got), err)
				}
				if err := s.Ack(seq); err != nil {
					b.Fatal(err)
				}
				left--
			}
		})
	}
}
