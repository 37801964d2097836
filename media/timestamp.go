package media

import (
	"math/big"
	"time"

	"github.com/asticode/go-astiav"
)

// nanosecondQ is the time base of time.Duration.
var nanosecondQ = astiav.NewRational(1, int(time.Second))

// microsecondQ is FFmpeg's AV_TIME_BASE_Q, the unit of container-level times.
var microsecondQ = astiav.NewRational(1, astiav.TimeBase)

// toDuration converts a timestamp in time base tb; FFmpeg's "no timestamp"
// becomes 0.
func toDuration(ts int64, tb astiav.Rational) time.Duration {
	if ts == astiav.NoPtsValue || tb.Den() == 0 {
		return 0
	}
	return time.Duration(astiav.RescaleQ(ts, tb, nanosecondQ))
}

// rescaleDelta is FFmpeg's av_rescale_delta: it rescales in_ts from inTB to
// outTB but, while consecutive timestamps agree with the running sample
// count within the input's rounding, keeps the output sample-exact. Audio in
// a millisecond time base (Matroska, WebM) would otherwise jitter by up to
// half a millisecond per frame. last holds the state between calls; nil
// state is "no previous frame".
func rescaleDelta(inTB astiav.Rational, inTS int64, fsTB astiav.Rational, duration int, last *int64, outTB astiav.Rational) int64 {
	simple := func() int64 {
		*last = astiav.RescaleQ(inTS, inTB, fsTB) + int64(duration)
		return astiav.RescaleQ(inTS, inTB, outTB)
	}
	if *last == astiav.NoPtsValue || duration == 0 ||
		int64(inTB.Num())*int64(outTB.Den()) <= int64(outTB.Num())*int64(inTB.Den()) {
		return simple()
	}
	a := astiav.RescaleQRnd(2*inTS-1, inTB, fsTB, astiav.RoundingDown) >> 1
	b := (astiav.RescaleQRnd(2*inTS+1, inTB, fsTB, astiav.RoundingUp) + 1) >> 1
	if *last < 2*a-b || *last > 2*b-a {
		return simple()
	}
	this := min(max(*last, a), b)
	*last = this + int64(duration)
	return astiav.RescaleQ(this, fsTB, outTB)
}

// compareTS is av_compare_ts: -1, 0 or 1 as a (in tbA) is before, at or
// after b (in tbB), exactly.
func compareTS(a int64, tbA astiav.Rational, b int64, tbB astiav.Rational) int {
	x := new(big.Int).Mul(big.NewInt(a), big.NewInt(int64(tbA.Num())*int64(tbB.Den())))
	y := new(big.Int).Mul(big.NewInt(b), big.NewInt(int64(tbB.Num())*int64(tbA.Den())))
	return x.Cmp(y)
}
