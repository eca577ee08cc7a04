package recovery

import "context"

// SetGather replaces how the processor waits for requests to gather after a wake.
func (p *Processor) SetGather(f func(ctx context.Context)) { p.gather = f }
