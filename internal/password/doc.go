// Package password hashes passwords with Argon2id, bounds the hashing work with a Pool, and
// holds Kilt's password policy: composition, length, the blocklist of commonly used
// passwords, the account's identifiers and the history of its last passwords.
//
// # Normalisation
//
// Every password is NFKC-normalised (Normalize) when it is set, checked against the policy
// and verified, and only in this package: callers pass what the user typed. Lengths are
// counted in code points of the NFKC form, never in bytes, and a password is never
// truncated. Verify checks the NFKC form only — one hash per attempt, whatever the password —
// and DummyVerify does the same work, so the time of a sign-in never tells whether the
// account exists. (A hash imported from a system that hashed a password NFKC changes from
// its raw bytes therefore does not match; its owner recovers the account.)
//
// # Hashing
//
// Hash writes PHC strings, $argon2id$v=19$m=19456,t=2,p=1$salt$key, with a 16-byte random
// salt and a 32-byte key in unpadded standard base64, exactly as the reference
// implementation does (a test verifies a vector of it). Verify also reads $argon2i$ and bcrypt
// ($2a$, $2b$, $2y$) for imported user bases and asks for a rehash of anything that is not
// Argon2id at least at the configured cost. argon2d, which golang.org/x/crypto lacks, and
// argon2 version 16 are refused with a clear error. Stored costs are bounded (memory 1 GiB,
// time 1024, bcrypt cost 16) so one corrupt row cannot take the machine down. Every Argon2
// and bcrypt computation runs inside a Pool of one slot per core by default, so memory stays
// bounded under any load; a caller that finds no slot within the pool's wait gets a
// kilt.KindUnavailable "busy" error with a Retry-After.
//
// # Policy decisions
//
// These are the rules, each with its own Violation code:
//
//   - Character classes are counted on the NFKC form: upper is A–Z, lower a–z, digit 0–9,
//     and special any other code point, so a space, Cyrillic and Kazakh letters are special
//     (as the seed says); a password of Cyrillic letters alone has no upper- or lower-case
//     letter in the policy's sense.
//   - password_invalid: the password is not valid UTF-8 or contains a control character
//     (Unicode category Cc: NUL, tab, newline, DEL, C1 controls). Such input comes from a
//     broken client or an attack, not a person's keyboard, and would be invisible on screen.
//   - password_contains_identifier: the e-mail local part (and the part before a "+tag"),
//     when it has at least 3 code points, case-insensitively; the phone's full digit string
//     and its last 10 digits (the national number of a +7 number, as in 87011234567).
//   - password_mismatch: the repeat field is compared after NFKC, on the server too.
//   - A password over the maximum length is not checked against the blocklist or the
//     identifiers, and Validate does no hashing for a password that breaks any static rule:
//     a 10 KB password is never hashed, and a password that must change anyway costs no
//     Argon2id work.
//
// # Commonly used passwords
//
// The blocklist is the ranked "passwords" list of zxcvbn 4.4.2 (30,000 entries from leaked
// password corpora, MIT licence, in blocklist.txt) plus a hand-written list of Russian and
// Kazakh words common in passwords (blocklist_local.txt). Every Cyrillic entry is also
// entered as typed on a US keyboard without switching layout (пароль is gfhjkm; Kazakh
// letters as on the Kazakh layout's digit row: қ is 0). A password is common when any
// of its forms matches:
//
//   - forms: the password NFKC-normalised and lower-cased; the same read from Cyrillic to
//     Latin keys (йцукен123 → qwerty123); and read from Latin to Russian ЙЦУКЕН keys
//     (gfhjkm123a! → пароль123ф!);
//   - cores of each form: the whole form; the form with leading and trailing punctuation,
//     spaces and symbols stripped; the form with all leading and trailing non-letters
//     stripped (a stripped core counts only with at least 4 code points);
//   - each core as written and with leetspeak undone (@ and 4 → a, 0 → o, 1 → i or l,
//     3 → e, $ and 5 → s, 7 → t);
//   - a match is a core that is on the list, or a core that contains a listed word of at
//     least 4 code points as a whole run of letters (or of digits) with at most 2 other
//     letters in the core.
//
// So Password1!, Qwerty123!, P@ssw0rd, gfhjkm123A!, 123456789Aa! and Пароль2024! are
// common, while Tulpar-Sunkar-7 and Correct-Horse-Battery-9 are not: a listed word plus
// digits, symbols and a letter or two is what cracking rules try first, a phrase of several
// words is not. The policy's ContextWords (the portal's names: kilt, кілт, portal, портал)
// make a password common when any form, with leetspeak undone or not, contains one:
// Kilt2026!x is common.
//
// # History
//
// A new password must not be similar to the last HistorySize (6) passwords of the account,
// the current one included. Similar means equal, or with equal Skeleton (NFKC, lower-cased,
// letters of any script only) when the new skeleton has at least 4 letters. Each
// HistoryEntry keeps the account hash of that password and an Argon2id hash of
// HMAC-SHA256(pepper, skeleton): without the server secret a database dump cannot test
// skeletons. Similar checks one hash per entry, all in parallel through the pool.
// Policy.AddHistory keeps the list newest first and at most HistorySize long.
package password
