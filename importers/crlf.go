package importers

import "bytes"

// crlfLines records which lines of the input end in "\r\n", so that a
// quoted CSV cell can be given back its line breaks as they were written:
// encoding/csv turns every "\r\n" it reads into "\n". It sees the input as
// it is read, ahead of the CSV reader, and keeps one bit per line from the
// oldest line still asked for; the reader's limits bound how far ahead
// that is.
type crlfLines struct {
	lines int      // newlines seen: the line being read is lines+1
	cr    bool     // the last byte seen was '\r'
	base  int      // the line of bit 0 of bits
	bits  []uint64 // bit i: line base+i ends in "\r\n"
}

// scan takes the next bytes of the input.
func (c *crlfLines) scan(p []byte) {
	if !c.cr && bytes.IndexByte(p, '\r') < 0 {
		c.lines += bytes.Count(p, []byte{'\n'})
		return
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		c.lines++
		if (i > 0 && p[i-1] == '\r') || (i == 0 && c.cr) {
			c.set(c.lines)
		}
		c.cr = false
		p = p[i+1:]
	}
	if len(p) > 0 {
		c.cr = p[len(p)-1] == '\r'
	}
}

func (c *crlfLines) set(line int) {
	if len(c.bits) == 0 {
		c.base = line
	}
	k := line - c.base
	for len(c.bits) <= k>>6 {
		c.bits = append(c.bits, 0)
	}
	c.bits[k>>6] |= 1 << (k & 63)
}

// any reports whether a line not yet forgotten ends in "\r\n".
func (c *crlfLines) any() bool { return len(c.bits) > 0 }

// at reports whether line ends in "\r\n". Lines before the last forget
// may be forgotten.
func (c *crlfLines) at(line int) bool {
	k := line - c.base
	if k < 0 || k>>6 >= len(c.bits) {
		return false
	}
	return c.bits[k>>6]&(1<<(k&63)) != 0
}

// forget lets go of the lines before line (a word of 64 lines at a time).
func (c *crlfLines) forget(line int) {
	w := (line - c.base) >> 6
	switch {
	case w <= 0:
	case w >= len(c.bits):
		c.bits = c.bits[:0]
	default:
		c.bits = c.bits[:copy(c.bits, c.bits[w:])]
		c.base += w << 6
	}
}
