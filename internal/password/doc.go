// Package password hashes passwords with Argon2id, bounds the hashing work with a Pool, and
// holds Kilt's password policy: composition, length, the blocklist of commonly used
// passwords, the account's identifiers and the history of its last passwords.
//
// Contract: callers pass what the user typed; the package NFKC-normalises it (Normalize) at
// set, check and verify, counts code points, never truncates. Hash writes Argon2id PHC
// strings; Verify also reads imported argon2i and bcrypt hashes and asks for a rehash of
// anything below the configured cost, one hash per attempt, and DummyVerify does the same
// work for an unknown account. Every computation runs in the Pool, which answers a
// kilt.KindUnavailable error with a Retry-After when no slot frees in time. Validate reports
// every broken rule as a Violation with its own code and hashes nothing for a password that
// breaks a static rule; Similar checks the last HistorySize passwords by equality and by
// peppered skeleton. The rules in full, with the reasons: docs/password.md.
package password
