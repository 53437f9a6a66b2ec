// Package sketch holds the mergeable summaries wirewatch keeps per time
// window: relative-error quantiles (DDSketch), distinct counts (HyperLogLog)
// and weighted heavy hitters (Space-Saving).
//
// Every sketch here has two properties the rest of the system relies on:
//
//   - Mergeable: a probe summarises each window locally, and the center merges
//     windows from many probes (and many windows from one probe) into one
//     view. Merging two sketches gives the same guarantees as one sketch fed
//     the concatenated streams, with the error bounds documented on each type
//     and in docs/sketches.md.
//   - Safe to decode from a stranger: the center receives encoded sketches
//     over the network. UnmarshalBinary validates every length, count and
//     index against fixed caps before it allocates, returns an error (never
//     panics) on malformed input, and never allocates more than a small
//     multiple of the input size.
//
// Sketches are not safe for concurrent use; callers lock or keep one per
// goroutine. Distinct.Estimate in particular compacts internal state.
package sketch
