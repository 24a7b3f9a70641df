package cli

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"
)

// bench keeps its latencies in histograms, bounded in bytes however long
// it runs: one of the whole run and one per slice of its timeline (at most
// benchMaxSlices), instead of every sample (a ten-minute run at 13,000
// writes/s once kept 7.8 M samples, about 300 MB).
//
// A histogram counts microseconds in buckets: exact below 2^histSubBits µs,
// and above that each power of two cut into 2^histSubBits buckets, so a
// bucket is less than 1/256 of its values wide. A percentile is the largest
// value of the bucket that holds the nearest-rank sample, kept within the
// exact min and max: never below the exact percentile, and less than 0.4%
// above it. A bucket is 8 bytes, and a histogram grows to the highest bucket
// it used: about 24 KB for latencies under a second, 61 KB for a day.
const histSubBits = 8

// histBucket returns the bucket of us microseconds.
func histBucket(us uint64) int {
	if us < 1<<histSubBits {
		return int(us)
	}
	shift := bits.Len64(us) - 1 - histSubBits
	return (shift+1)<<histSubBits + int(us>>shift) - 1<<histSubBits
}

// histHighest returns the largest number of microseconds in bucket b.
func histHighest(b int) uint64 {
	if b < 1<<histSubBits {
		return uint64(b)
	}
	shift := b>>histSubBits - 1
	low := uint64(b&(1<<histSubBits-1)+1<<histSubBits) << shift
	return low + 1<<shift - 1
}

// latencyHist is a histogram of latencies (see histSubBits) with the exact
// min and max, in microseconds.
type latencyHist struct {
	counts   []uint64 // by bucket, as long as the highest bucket used
	n        uint64
	min, max uint64
}

// add counts one latency, rounded to the microsecond.
func (h *latencyHist) add(d time.Duration) {
	us := uint64((max(d, 0) + time.Microsecond/2) / time.Microsecond)
	b := histBucket(us)
	if b >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, b+1-len(h.counts))...)
	}
	h.counts[b]++
	if h.n == 0 || us < h.min {
		h.min = us
	}
	h.max = max(h.max, us)
	h.n++
}

// merge adds o's counts to h.
func (h *latencyHist) merge(o *latencyHist) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for b, c := range o.counts {
		h.counts[b] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
}

// percentile returns the p-th percentile (0 < p <= 100) in microseconds,
// by the nearest-rank method (the smallest sample with at least p% of the
// samples at or below it) to the bucket: see histSubBits. 0 for none.
func (h *latencyHist) percentile(p float64) uint64 {
	if h.n == 0 {
		return 0
	}
	// The epsilon keeps float error from pushing an exact rank up one
	// (99.9% of 1000 is 999.0000000000001 in float64).
	rank := uint64(max(1, min(float64(h.n), math.Ceil(p/100*float64(h.n)-1e-9))))
	var seen uint64
	for b, c := range h.counts {
		if seen += c; seen >= rank {
			return min(max(histHighest(b), h.min), h.max)
		}
	}
	return h.max
}

// stats returns the histogram's statistics in milliseconds.
func (h *latencyHist) stats() latencyMS {
	if h.n == 0 {
		return latencyMS{}
	}
	ms := func(us uint64) float64 { return float64(us) / 1000 }
	return latencyMS{Min: ms(h.min), P50: ms(h.percentile(50)), P90: ms(h.percentile(90)),
		P99: ms(h.percentile(99)), P999: ms(h.percentile(99.9)), Max: ms(h.max)}
}

// benchRecorder takes each chosen operation into the run's histogram and
// into its slice of the timeline. Slices start benchMinSlice wide; when a
// run outgrows benchMaxSlices of them, they merge pairwise and double. It
// is safe for concurrent use.
type benchRecorder struct {
	mu     sync.Mutex
	all    latencyHist
	width  time.Duration
	slices []latencyHist
}

func newBenchRecorder() *benchRecorder { return &benchRecorder{width: benchMinSlice} }

// add records an operation chosen at (since the run began) after lat.
func (r *benchRecorder) add(at, lat time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all.add(lat)
	for at >= benchMaxSlices*r.width {
		r.double()
	}
	i := int(max(at, 0) / r.width)
	if i >= len(r.slices) {
		r.slices = append(r.slices, make([]latencyHist, i+1-len(r.slices))...)
	}
	r.slices[i].add(lat)
}

// double merges the slices pairwise: half as many, twice as wide.
func (r *benchRecorder) double() {
	for i := 0; i < len(r.slices); i += 2 {
		h := r.slices[i]
		if i+1 < len(r.slices) {
			h.merge(&r.slices[i+1])
		}
		r.slices[i/2] = h
	}
	clear(r.slices[(len(r.slices)+1)/2:])
	r.slices = r.slices[:(len(r.slices)+1)/2]
	r.width *= 2
}

// timeline cuts a run of elapsed into at most benchMaxSlices slices of
// benchMinSlice doubled as few times as that takes, and returns their
// width and each one's operations.
func (r *benchRecorder) timeline(elapsed time.Duration) (time.Duration, []benchSlice) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for elapsed > benchMaxSlices*r.width {
		r.double()
	}
	n := max(1, int((elapsed+r.width-1)/r.width))
	out := make([]benchSlice, n)
	for i := range out {
		var h latencyHist
		if i < len(r.slices) {
			h = r.slices[i]
		}
		if i == n-1 { // an operation chosen at elapsed exactly counts in the last slice
			h.counts = slices.Clone(h.counts)
			for j := n; j < len(r.slices); j++ {
				h.merge(&r.slices[j])
			}
		}
		st := h.stats()
		out[i] = benchSlice{T: (time.Duration(i) * r.width).Seconds(), Ops: int(h.n), P50: st.P50, P99: st.P99, Max: st.Max}
	}
	return r.width, out
}
