package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressFunc returns what writes a waiting batch's progress to w: a
// progress bar with rows/s and the time left when w is a terminal, else
// ingest.Progress's plain lines (for logs and pipes).
func progressFunc(w io.Writer, m jobs.Meta, start time.Time) func(jobs.Meta) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return newProgressBar(w, m).update
	}
	return ingest.NewProgress(w, start).Update
}

// progressBar draws a batch's progress on a terminal, one line redrawn:
//
//	batch 38f0a878730f838e43d4 (120 ok, 0 failed)  40% |████      | (120/300, 150 rows/s) [0s:1s]
//
// the time done and the time left in brackets. A wait for the API is
// written on a line of its own above the bar, once per reason.
type progressBar struct {
	w       io.Writer
	bar     *progressbar.ProgressBar
	waiting string // the reason last written
}

func newProgressBar(w io.Writer, m jobs.Meta) *progressBar {
	return &progressBar{w: w, bar: progressbar.NewOptions(m.Total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("batch "+m.ID),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

// update is ingest.Wait's progress function.
func (p *progressBar) update(m jobs.Meta) {
	if m.Waiting != p.waiting {
		p.waiting = m.Waiting
		_ = p.bar.Clear()
		if m.Waiting != "" {
			fmt.Fprintf(p.w, "batch %s: waiting for the API: %s\n", m.ID, m.Waiting)
		} else {
			fmt.Fprintf(p.w, "batch %s: the API answers again\n", m.ID)
		}
	}
	desc := fmt.Sprintf("batch %s (%d ok, %d failed)", m.ID, m.Successes, m.Failed)
	if m.Done >= m.Total {
		// Set finishes the bar at its total and ends its line: the final
		// counts go first.
		p.bar.Describe(desc)
		_ = p.bar.Set(m.Done)
	} else {
		// The count first, so that the redrawn line agrees with itself.
		_ = p.bar.Set(m.Done)
		p.bar.Describe(desc)
	}
	if m.Finished() && !p.bar.IsFinished() {
		_ = p.bar.Finish()
	}
}
