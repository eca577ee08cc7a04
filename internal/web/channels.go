package web

import "kilt/internal/account"

// SetChannels attaches the channel service (SPEC §9; nil: the channel pages answer 404).
func (s *Site) SetChannels(c *account.Channels) { s.channels = c }
