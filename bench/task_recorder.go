package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
)

// taskRecorder notes the payload of every task an asynq client enqueues,
// as seen in the commands it sends. asynq enqueues a task with a script
// (EVALSHA, or EVAL the first time) whose keys are the task's hash
// "asynq:{QUEUE}:t:ID" and the queue's "asynq:{QUEUE}:pending" list, and
// whose first argument is the task message, protobuf-encoded, with the
// payload in field 2. It is safe for concurrent use.
type taskRecorder struct {
	mu      sync.Mutex
	sizes   []int
	largest []byte
	err     error
}

// taskPayloadField is the field number of the payload in asynq's
// TaskMessage (internal/proto/asynq.proto: bytes payload = 2).
const taskPayloadField = 2

// see inspects one command's arguments.
func (r *taskRecorder) see(args []any) {
	// evalsha SHA 2 asynq:{q}:t:ID asynq:{q}:pending MSG ID NOW
	if len(args) < 6 {
		return
	}
	name, _ := args[0].(string)
	if !strings.EqualFold(name, "evalsha") && !strings.EqualFold(name, "eval") {
		return
	}
	k1, _ := args[3].(string)
	k2, _ := args[4].(string)
	if !strings.HasPrefix(k1, "asynq:{") || !strings.Contains(k1, "}:t:") || !strings.HasSuffix(k2, "}:pending") {
		return
	}
	var msg []byte
	switch v := args[5].(type) {
	case []byte:
		msg = v
	case string:
		msg = []byte(v)
	}
	payload, err := protoBytesField(msg, taskPayloadField)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.err = errors.Join(r.err, err)
		return
	}
	r.sizes = append(r.sizes, len(payload))
	if len(payload) > len(r.largest) {
		r.largest = append([]byte(nil), payload...)
	}
}

// result returns the payload sizes seen, in order, and the largest payload.
func (r *taskRecorder) result() ([]int, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sizes, r.largest, r.err
}

// protoBytesField returns the value of a bytes field of a protobuf message
// (empty when absent).
func protoBytesField(msg []byte, field protowire.Number) ([]byte, error) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, fmt.Errorf("task message: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		if num == field && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return nil, fmt.Errorf("task message: %w", protowire.ParseError(n))
			}
			return v, nil
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return nil, fmt.Errorf("task message: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
	}
	return nil, nil
}
