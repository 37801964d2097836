package cli

import (
	"math"
	"slices"
	"time"
)

// ms is d in milliseconds, rounded to the microsecond, as the reports print
// durations.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// msPtr is ms(d), or nil (JSON null) when ok is false.
func msPtr(d time.Duration, ok bool) *float64 {
	if !ok {
		return nil
	}
	v := ms(d)
	return &v
}

// seconds is d in seconds, rounded to the microsecond.
func seconds(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e6 }

// quantile is the q-quantile (0 to 1, nearest rank) of ds, 0 when empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q * float64(len(s))))
	return s[min(max(i-1, 0), len(s)-1)]
}
