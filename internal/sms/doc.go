// Package sms sends Kilt's text messages: the gateways (webhook, Mobizon, Twilio), the dev
// console transport (Log, wired only with --dev), and the Guard every SMS passes through
// before a gateway sees it. Each is an outbox.Sender.
//
// A gateway's acceptance is nil; no answer, a timeout, HTTP 408, 425, 429 or 5xx is a
// temporary error (the outbox retries); any other refusal is outbox.Permanent. The Guard
// returns outbox.Blocked for a destination that is not an allowed country's mobile E.164
// number, for a spent daily budget (recovery codes keep a reserve of it) and for a number
// range over its registration cap. Errors are *kilt.Error with CodeRefused or CodeNoAnswer;
// they never hold the text, the number, a credential, the URL or the gateway's own message
// (docs/security.md). The decisions behind this follow.
package sms

// Decisions:
//
//   - Classification. A gateway's answer decides: accepted → nil; HTTP 408, 425, 429 and 5xx,
//     a network error or a timeout → a temporary error (the outbox backs off and retries, so
//     Retry-After is not read: the backoff already spaces attempts, and a gateway that asks
//     for hours would only be waiting on a code that expires in minutes); any other refusal →
//     outbox.Permanent. A redirect is not followed (NewHTTPClient): it means a wrong URL, and
//     following it could carry credentials elsewhere; it is permanent like any other refusal.
//     Mobizon answers HTTP 200 with its own code; each documented code is classified in
//     mobizon.go.
//   - Errors are *kilt.Error with code CodeRefused (the gateway answered and did not take the
//     message) or CodeNoAnswer (no answer, or none that could be read: the message may have
//     been taken). They name the provider, the HTTP status and the provider's error code, and
//     carry them as details. They never hold the message text (it carries a code), the
//     destination number, an API key or token, the request URL (Mobizon's key is in its query
//     string, as its API requires) or the gateway's free-text message (it may echo the
//     number or the text).
//   - Timeouts: NewHTTPClient gives 5 s to connect (and to finish TLS) and 15 s to the whole
//     exchange; a nil client in a constructor means that one. At most 64 KiB of an answer is
//     read.
//   - The Guard refuses, before any gateway or budget is touched, a destination that is not
//     exactly an E.164 number (what is checked is byte for byte what is sent), is not valid,
//     lies outside the allowed countries (by libphonenumber region, since +7 is shared by
//     Kazakhstan and Russia) or is not a mobile number (fixed-line-or-mobile ranges pass:
//     libphonenumber cannot tell them apart, and refusing them would refuse real phones).
//     These refusals are outbox.Blocked with a reason that is also a metric label.
//   - The daily budget counts attempts, not deliveries, in UTC days: an SMS is taken from it
//     before the gateway is called, so no failure mode can spend more than the budget. When
//     the gateway answers with a refusal (CodeRefused: nothing was sent, nothing billed), the
//     SMS is given back if the Budget can (BudgetRefunder); otherwise a gateway outage with
//     retries would drain the day's budget and block the messages queued behind it. A
//     request that got no answer stays counted: it may have been delivered and billed.
//   - Part of the daily budget is kept for recovery codes (GuardConfig.RecoveryReserve,
//     KILT_SMS_RECOVERY_RESERVE, 30 % by default): registration SMS (a code, or the "already
//     registered" notice) go to any number anyone types, so they may spend only the rest,
//     while recovery codes go only to numbers an account verified and may spend it all. One
//     counter serves both: a registration SMS is refused once the day's total reaches the
//     registration share, so no extra state and no race between the two.
//   - Registration SMS are also capped per range of numbers, the E.164 number without its
//     last 4 digits (KILT_LIMIT_SMS_NUMBER_RANGE, 20 a day by default): SMS-pumping fraud
//     sends to consecutive numbers it rents from a carrier. The key is a keyed hash, so the
//     rate-limit table holds no number prefixes. Recovery codes are not capped by range.
//     A blocked registration SMS changes nothing the client sees (the answer was given
//     before the send), so the refusal reveals nothing about the number.
//   - Log is the dev transport: it prints whole messages, codes included, because showing
//     them on a developer's console is its purpose; it is only wired in --dev. It logs any
//     outbox.Rendered, e-mail as well as SMS.
