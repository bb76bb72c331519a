package main

import (
	"fmt"
	"io"

	"github.com/bulksync/bulksync/jobs"
)

// planSink prints a dry run's plan, one line per row, and counts actions.
type planSink struct {
	w      io.Writer
	counts map[string]int
}

func newPlanSink(w io.Writer) *planSink { return &planSink{w: w, counts: map[string]int{}} }

func (p *planSink) Row(o jobs.Outcome) error {
	what := o.Action
	if o.Status != jobs.StatusOK {
		what = o.Status + " " + o.ErrorCode
	}
	p.counts[what]++
	if o.Message != "" && o.Status == jobs.StatusOK {
		what += " (" + o.Message + ")"
	}
	_, err := fmt.Fprintf(p.w, "line %d %s: %s\n", o.Line, o.ExternalID, what)
	return err
}

func (p *planSink) Close() error {
	_, err := fmt.Fprintf(p.w, "dry run, nothing written: %d create, %d update, %d unchanged\n",
		p.counts[jobs.ActionCreate], p.counts[jobs.ActionUpdate], p.counts[jobs.ActionUnchanged])
	return err
}
