// Package notify renders every message Kilt sends — e-mails (subject, plain text, HTML) and
// SMS — from templates embedded in the binary, in Kazakh (kk, the default), Russian (ru) and
// English (en). The outbox dispatcher calls Renderer.Render with a message's kind, channel,
// language and data (outbox's payload keys), and hands the outbox.Rendered to a sender.
//
// Render makes a message complete or not at all: an unknown kind/channel pair, a missing or
// blank key, a control character in any value, a link that is not an absolute http(s) URL,
// a lifetime that is not a positive number of minutes or a time that is not RFC 3339 is a
// KindInternal error naming the key, never the value. A template sees only the keys its
// kind declares, so a secret passed by mistake never reaches a notice. An unsupported
// language renders in Kazakh. New panics on a broken template: they are compiled in, so that
// is a programming error the tests catch. The decisions behind the templates follow.
package notify

// Decisions:
//
//   - Layout. templates/<lang>/<kind>.subject.tmpl, .txt.tmpl and .html.tmpl for e-mail,
//     <kind>.sms.tmpl for SMS. E-mail bodies are content only: one HTML layout
//     (templates/layout.html.tmpl) and one plain-text layout wrap them, and each language's
//     common.html.tmpl and common.txt.tmpl hold the sentences the layouts share (footer,
//     "copy the link" hint). Subject, plain text and SMS use text/template; HTML uses
//     html/template, so every value is escaped for its context and URLs in href are
//     filtered. Templates can call plural (Russian one/few/many, English one/other) and
//     action (a link with its button label).
//   - Fail fast. New parses every template once, then renders each message once with
//     sample data: html/template checks its contexts at the first execution, and a
//     misspelt field fails only when executed. Anything wrong makes New panic, as
//     template.Must does. The templates are compiled into the binary, so a broken one is a
//     programming error that this package's tests catch, never an operator's. New also
//     panics on a ProductName with control characters (config validation should refuse it
//     first).
//   - Data is checked before anything is rendered, so a message is complete or is not made
//     at all. These are errors: an unknown kind/channel pair; a missing or blank key; a
//     control character (CR/LF would allow header or SMS injection) in any value, used or
//     not; a link that is not an absolute http(s) URL; a lifetime that is not a positive
//     number of minutes; a time that is not RFC 3339. The errors are *kilt.Error with
//     KindInternal, because the caller built the message wrongly. They name the key, never
//     the value, because values are links and codes.
//   - Secrets go only where a template puts them. Templates see a typed view that holds only
//     the keys their kind declares. A link or code passed by mistake to password_changed or
//     already_registered never reaches those templates.
//   - An unsupported language renders in Kazakh; a tag with a region ("ru-RU") uses its
//     base language.
//   - Times are shown in Config.Location. The default is Asia/Almaty, with tzdata embedded
//     so that it always loads. kk and ru show "25.11.2026 14:05", en "25 Nov 2026 14:05".
//     E-mails add the UTC offset ("(UTC+5)"), which means the same to every reader, wherever
//     they are; Go's abbreviation for Almaty is a bare "+05". The Kazakh and Russian SMS
//     leave the offset out to save room; the English one keeps it.
//   - The portal's name (Config.Names, by language, from package brand; ProductName when a
//     language has none) heads every e-mail and SMS. The support contact (Config.Support)
//     ends every e-mail, after the footer, and every SMS, on a line of its own, as the
//     catalog's support_contact sentence ("Support: …"); it is kept when the name is dropped
//     to save an SMS segment, since it is how someone who did not ask for a message reaches a
//     person.
//   - The product name is never inflected. Kazakh suffixes follow a word's vowels and
//     Russian cases follow its ending, so the name only appears as a "Name: …" prefix, a
//     heading or a signature.
//   - Wording. Kazakh follows the portal's manual: its words (құпия сөз, қалпына келтіру,
//     сілтеме, электрондық пошта, растау коды, аккаунт, «Құпия сөз», «Құпия сөзді
//     қайталау», «Сақтау», "ашылған терезеде", "көшіріп алып, браузердің адрестік жолағына
//     қойыңыз") and its polite capitalised "Сіз". Russian follows the i18n catalog:
//     lower-case "вы", "учётная запись", "e-mail". Every e-mail with a link says how long
//     it is valid, that it works once, not to share it, and what to do if the reader did
//     not ask for it. Every code SMS says not to tell the code to anyone; telling it to a
//     caller is how these codes are usually stolen.
//   - SMS length (see Segments). Code messages fit one segment. Kazakh and Russian are
//     UCS-2, which allows 70 characters for the product name, the 6-digit code, the
//     lifetime and the warning, so they write "мин" for minutes. With the default name
//     they use 66–67 characters. A product name of up to 6 characters with a two-digit
//     lifetime still fits; a longer name costs a second segment.
//     The already_registered and password_changed SMS carry the recovery URL, which takes
//     about half of a UCS-2 segment. The rest of one segment cannot hold "someone tried to
//     register with this number, you already have an account, if you forgot the password
//     recover it here", nor "your password was changed at TIME, if it was not you recover
//     it here". An SMS that leaves part of a security notice out is worse than a second
//     segment. So in Kazakh and Russian these two take two segments (at most 134
//     characters). With a 30-character URL they use 113–121 characters, so a URL of up to
//     about 43 characters still fits in two. English is GSM-7 (160 septets) and fits in
//     one. already_registered can be triggered by strangers, but the per-number and per-IP
//     limits and the daily SMS budget bound what that costs. To stay within two segments,
//     the SMS leave out the "contact support" advice that the e-mails give.
//   - HTML e-mail. One table-based layout, at most 560 pixels wide and fluid below that.
//     Inline styles only, because many mail clients drop <style>. No images and no web
//     fonts. Text colours have a contrast ratio of at least 4.5:1. The lang attribute is
//     set and each message has one heading for screen readers. Every link is also written
//     out in full below its button, so it can be copied, as the manual says. The plain-text
//     part says the same as the HTML, in sentences written for text instead of a button.
