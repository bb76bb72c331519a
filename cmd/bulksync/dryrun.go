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

// Close prints the counts: create, update and unchanged always; delete
// and apply (writes that cannot be looked up first) when some row has them.
func (p *planSink) Close() error {
	plan := fmt.Sprintf("%d create, %d update", p.counts[jobs.ActionCreate], p.counts[jobs.ActionUpdate])
	for _, a := range []string{jobs.ActionDelete, jobs.ActionApply} {
		if n := p.counts[a]; n > 0 {
			plan += fmt.Sprintf(", %d %s", n, a)
		}
	}
	_, err := fmt.Fprintf(p.w, "dry run, nothing written: %s, %d unchanged\n", plan, p.counts[jobs.ActionUnchanged])
	return err
}
