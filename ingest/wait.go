package ingest

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bulksync/bulksync/jobs"
)

// WaitingEvery is how often Wait calls progress while a batch waits for
// the API and nothing else changes, so that a long outage is not silent.
const WaitingEvery = 15 * time.Second

// Wait polls a batch until it is finished (done, halted or cancelled) or
// ctx ends, calling progress after every poll that saw a change (more rows
// done, or another Waiting reason), and every WaitingEvery while the batch
// waits for the API.
func Wait(ctx context.Context, store *jobs.Store, id string, every time.Duration, progress func(jobs.Meta)) (jobs.Meta, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastWaiting := -1, ""
	var called time.Time
	var m jobs.Meta
	for {
		got, err := store.Get(ctx, id)
		if err != nil {
			return m, err // the last meta read, not an empty one
		}
		m = got
		changed := m.Done != last || m.Waiting != lastWaiting
		if progress != nil && (changed || (m.Waiting != "" && time.Since(called) >= WaitingEvery)) {
			progress(m)
			last, lastWaiting, called = m.Done, m.Waiting, time.Now()
		}
		if m.Finished() {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-t.C:
		}
	}
}

// DefaultProgressEvery is the least time between two progress lines.
const DefaultProgressEvery = time.Second

// Progress writes a waiting batch's progress lines, such as
//
//	batch 38f0a878730f838e43d4: 5/5 rows done (5 ok, 0 failed) 201ms
//
// ending in ", waiting for the API: REASON" while the batch waits for the
// API. Its Update method is [Wait]'s progress function. The exported
// fields may be changed before the first Update.
type Progress struct {
	// Every is the least time between two lines. The batch's first and
	// final lines, and a line that starts or ends a wait for the API, are
	// written whatever the time. Defaults to DefaultProgressEvery.
	Every time.Duration
	// Now tells the time. Defaults to time.Now.
	Now func() time.Time

	w           io.Writer
	start, last time.Time
	waiting     bool // the last line said the batch was waiting
}

// NewProgress returns a Progress writing to w, whose lines count the
// elapsed time from start.
func NewProgress(w io.Writer, start time.Time) *Progress {
	return &Progress{w: w, start: start}
}

// Update writes m's progress line, unless a line was written less than
// Every ago and this one neither ends the batch nor starts or ends a wait.
func (p *Progress) Update(m jobs.Meta) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	waiting := m.Waiting != ""
	if now.Sub(p.last) < cmp.Or(p.Every, DefaultProgressEvery) && !m.Finished() && waiting == p.waiting {
		return
	}
	p.last, p.waiting = now, waiting
	line := fmt.Sprintf("batch %s: %d/%d rows done (%d ok, %d failed) %s", m.ID, m.Done, m.Total, m.Successes, m.Failed, now.Sub(p.start).Round(time.Millisecond))
	if waiting {
		line += ", waiting for the API: " + m.Waiting
	}
	// One write a line: the workers' logs may share w.
	_, _ = io.WriteString(p.w, line+"\n")
}
