package account

import "context"

// CountAttempt counts an attempt under a sign-in slow-down key of the caller's own (the
// service-centre console's second factor: "f:…") before what it guards is checked, or
// refuses it with 429 login_throttled while the key must wait. The same rules as sign-in
// apply (ThrottleConfig).
func (s *Service) CountAttempt(ctx context.Context, key string) error {
	return s.countAttempt(ctx, key)
}

// ClearAttempts forgets the failures counted under key (after a success).
func (s *Service) ClearAttempts(ctx context.Context, key string) error {
	return s.store.ClearLoginThrottle(ctx, key)
}
