package backbone

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

type progressKey struct{}

// WithProgress returns a context whose downloads and conversions report to w.
// Without one they report to os.Stderr: nothing is ever fetched silently.
func WithProgress(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, progressKey{}, w)
}

func progressOf(ctx context.Context) io.Writer {
	if w, ok := ctx.Value(progressKey{}).(io.Writer); ok {
		return w
	}
	return os.Stderr
}

// isTerminal tells whether w redraws a line on "\r"; logs and pipes get a
// line per step instead.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// meter counts the bytes written to it and reports them: on a terminal one
// line redrawn at most every redraw, elsewhere a line at every quarter of the
// total (every unknownStep bytes when the total is unknown).
type meter struct {
	w        io.Writer
	tty      bool
	total    int64 // <= 0 when unknown
	done     int64
	start    time.Time
	drawn    time.Time
	reported int64 // the step last reported
	onWrite  func()
}

const (
	redraw      = 200 * time.Millisecond
	unknownStep = 20 << 20
)

func newMeter(w io.Writer, total int64) *meter {
	return &meter{w: w, tty: isTerminal(w), total: total, start: time.Now()}
}

func (m *meter) Write(p []byte) (int, error) {
	m.done += int64(len(p))
	if m.onWrite != nil {
		m.onWrite()
	}
	switch {
	case m.tty:
		if now := time.Now(); now.Sub(m.drawn) >= redraw {
			m.drawn = now
			fmt.Fprintf(m.w, "\r  %-60s", m.status())
		}
	case m.total > 0:
		// A line at 25, 50 and 75%; finish writes the 100% one.
		if step := 4 * m.done / m.total; step > m.reported && step < 4 {
			m.reported = step
			fmt.Fprintf(m.w, "  %s\n", m.status())
		}
	default:
		if step := m.done / unknownStep; step > m.reported {
			m.reported = step
			fmt.Fprintf(m.w, "  %s\n", m.status())
		}
	}
	return len(p), nil
}

func (m *meter) status() string {
	if m.total <= 0 {
		return megabytes(m.done)
	}
	s := fmt.Sprintf("%d%% %s of %s", 100*m.done/m.total, megabytes(m.done), megabytes(m.total))
	if secs := time.Since(m.start).Seconds(); m.tty && secs > 0.5 {
		rate := float64(m.done) / secs
		s += fmt.Sprintf(", %s/s, %.0f s left", megabytes(int64(rate)), float64(m.total-m.done)/rate)
	}
	return s
}

// finish ends the report with the size and how long it took.
func (m *meter) finish() {
	took := time.Since(m.start)
	line := fmt.Sprintf("100%% %s in %.1f s", megabytes(m.done), took.Seconds())
	if m.tty {
		fmt.Fprintf(m.w, "\r  %-60s\n", line)
		return
	}
	fmt.Fprintf(m.w, "  %s\n", line)
}

// megabytes spells n bytes in MB (10^6 bytes), as npm and browsers do.
func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
