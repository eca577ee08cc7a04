package recovery

import (
	"context"
	"time"
)

// SetGather replaces how the processor waits for requests to gather after a wake.
func (p *Processor) SetGather(f func(ctx context.Context)) { p.gather = f }

// SetPoll replaces how often the running processor looks without being woken.
func (p *Processor) SetPoll(d time.Duration) { p.poll = d }
