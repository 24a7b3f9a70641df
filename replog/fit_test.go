package replog

import "testing"

func TestFit(t *testing.T) {
	sizes := []int{5, 5, 5, 20, 5}
	size := func(i int) int { return sizes[i] }
	for _, tt := range []struct {
		count, limit, max, want int
	}{
		{5, 0, 15, 3},  // 5+5+5 fits, +20 does not
		{5, 2, 15, 2},  // the count limit first
		{5, 0, 1, 1},   // the first item goes whatever its size
		{5, 0, 100, 5}, // no bound on count when limit <= 0
		{0, 0, 100, 0}, // nothing to fit
		{5, 10, 40, 5}, // everything
		{4, 0, 34, 3},  // 5+5+5+20 = 35 > 34
	} {
		if got := Fit(tt.count, tt.limit, tt.max, size); got != tt.want {
			t.Errorf("Fit(%d, %d, %d) = %d, want %d", tt.count, tt.limit, tt.max, got, tt.want)
		}
	}
}
