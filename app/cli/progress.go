package cli

import (
	"fmt"
	"io"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar, redrawn on a ticker by a
// goroutine that Stop ends.
type progress struct {
	w     io.Writer
	label string
	total int64
	start time.Time
	// done counts bytes so far; written by the copy, read by the ticker.
	done atomic.Int64
	stop chan struct{}
	wg   gosync.WaitGroup
}

func startProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{w: w, label: label, total: total, start: time.Now(), stop: make(chan struct{})}
	p.wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw()
			case <-p.stop:
				p.draw()
				fmt.Fprintln(p.w)
				return
			}
		}
	})
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.done.Add(int64(len(b)))
	return len(b), nil
}

func (p *progress) Stop() {
	close(p.stop)
	p.wg.Wait()
}

func (p *progress) draw() {
	done := p.done.Load()
	frac := 1.0
	if p.total > 0 {
		frac = float64(done) / float64(p.total)
	}
	const width = 30
	fill := int(frac * width)
	rate := float64(done) / max(time.Since(p.start).Seconds(), 1e-3) / 1e6
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s / %s %6.1f MB/s", p.label,
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), frac*100, mib(done), mib(p.total), rate)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
