// Package search draws the trials of a search over a space of settings and
// decides which running trials to stop: a random sampler, TPE with the
// semantics of Optuna's TPESampler, the median rule and asynchronous
// successive halving (ASHA). Everything here is a pure function of small
// value types; the runner stores claims and curves, this package only
// computes.
//
// Determinism with several workers: the n-th sample of a search is
//
//	Sample(space, seed, n, history)
//
// where n is the claim's index in the search (0, 1, 2, ... in the order the
// claims were stored) and history is the trials that had finished (complete
// or pruned) when claim n was made. Its random numbers come from a stream
// keyed by (seed, n) alone, so neither the order in which workers finish
// trials nor the number of workers changes what claim n draws given its
// history. The store records with each claim its index and the indices of
// the trials in its history; a restarted search re-reads the claims it has
// (their points are stored) and draws claim n+1 from the trials finished
// then. One worker with no crash in the middle of a trial sees the history
// 0..n-1 for claim n, so a restart continues exactly the sequence an
// uninterrupted run would have drawn. The order of history does not matter:
// it is sorted by claim index before use.
package search
