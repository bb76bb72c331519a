package jobs

// The asynq queues bulksync enqueues chunks on. Workers take both, the
// interactive one first (worker.DefaultQueues gives the weights).
const (
	// DefaultQueue takes the chunks of file imports.
	DefaultQueue = "bulksync"
	// InteractiveQueue takes the chunks that someone waits for: the bulk
	// suggestion requests of bulksync serve. A few hundred rows there are
	// worked before the chunks of a large import queued earlier.
	InteractiveQueue = "bulksync:interactive"
)
