// Kilt pages work without this script; it only adds the eye toggles, the live password
// checklist, the resend countdown and keeps typed identifiers across a language switch. No
// framework, no inline code (the CSP forbids it).
(function () {
  'use strict';

  function byId(id) { return id ? document.getElementById(id) : null; }

  // Eye toggles: real buttons with aria-pressed, hidden until this script can run them.
  var eyes = document.querySelectorAll('button.eye[aria-controls]');
  eyes.forEach(function (btn) {
    var input = byId(btn.getAttribute('aria-controls'));
    if (!input) { return; }
    btn.hidden = false;
    btn.addEventListener('click', function () {
      var show = input.type === 'password';
      input.type = show ? 'text' : 'password';
      btn.setAttribute('aria-pressed', show ? 'true' : 'false');
    });
  });
  // Passwords are masked again on submit, so no browser keeps them as plain text fields.
  document.querySelectorAll('form').forEach(function (form) {
    form.addEventListener('submit', function () {
      form.querySelectorAll('button.eye[aria-controls]').forEach(function (btn) {
        var input = byId(btn.getAttribute('aria-controls'));
        if (input) { input.type = 'password'; }
        btn.setAttribute('aria-pressed', 'false');
      });
    });
  });

  // The password checklist: each rule the browser can check is marked met or not met as one
  // types (a mark and a word, not only a colour); the rules only the server can check
  // (common passwords, the e-mail or number, the history) stay "checked on saving". A
  // screen reader hears one polite summary when the count changes, never every rule.
  var list = document.querySelector('ul[data-policy]');
  var pw = list && byId(list.getAttribute('data-for'));
  var chars = function (s) { return Array.from(s.normalize('NFKC')).length; };
  if (list && pw) {
    var strength = byId(pw.id + '-strength');
    var status = byId(pw.id + '-rules-status');
    // The marks' legend is only for the marks, which only this script sets.
    var legend = list.parentNode.querySelector('.rules-legend');
    if (legend) { legend.hidden = false; }
    var min = 8, max = 128;
    var checks = {
      password_too_short: function (p) { return chars(p) >= min; },
      password_too_long: function (p) { return chars(p) <= max; },
      password_no_upper: function (p) { return /[A-Z]/.test(p); },
      password_no_lower: function (p) { return /[a-z]/.test(p); },
      password_no_digit: function (p) { return /[0-9]/.test(p); },
      password_no_special: function (p) { return /[^A-Za-z0-9]/.test(p.normalize('NFKC')); }
    };
    var update = function () {
      var p = pw.value, met = 0, checked = 0;
      list.querySelectorAll('li[data-rule]').forEach(function (li) {
        var check = checks[li.getAttribute('data-rule')];
        var state = li.querySelector('.state');
        if (!state) {
          state = document.createElement('span');
          state.className = 'visually-hidden state';
          li.appendChild(state);
        }
        var s = 'unchecked', word = '';
        if (p !== '') {
          if (check) {
            checked++;
            s = check(p) ? 'met' : 'unmet';
            if (s === 'met') { met++; }
            word = list.getAttribute('data-' + s);
          } else {
            s = 'later';
            word = list.getAttribute('data-later');
          }
        }
        li.setAttribute('data-state', s);
        state.textContent = word === '' ? '' : ' (' + word + ')';
      });
      if (status) {
        var text = p === '' ? '' : list.getAttribute('data-summary').replace('{met}', met).replace('{total}', checked);
        if (status.textContent !== text) { status.textContent = text; }
      }
      if (strength) {
        var n = chars(p), classes = 0;
        [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].forEach(function (re) { if (re.test(p)) { classes++; } });
        var level = n < min || classes < 3 ? 'weak' : (n >= 12 && classes === 4 ? 'strong' : 'fair');
        strength.hidden = p === '';
        strength.textContent = p === '' ? '' : strength.getAttribute('data-' + level);
      }
    };
    fetch('/api/v1/password-policy?lang=' + encodeURIComponent(document.documentElement.lang), {
      headers: { 'Accept': 'application/json' }, credentials: 'same-origin'
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (policy) {
      if (!policy) { return; }
      min = policy.min_length || min;
      max = policy.max_length || max;
      update();
    }).catch(function () { /* the defaults stay */ });
    pw.addEventListener('input', update);
  }

  // The repeat of a new password: whether it matches is said there, once something is
  // typed in it, and not before.
  document.querySelectorAll('p.match[data-for]').forEach(function (out) {
    var again = byId(out.getAttribute('data-for'));
    var first = byId(out.getAttribute('data-with'));
    if (!again || !first) { return; }
    var show = function () {
      var a = again.value;
      if (a === '') {
        out.removeAttribute('data-state');
        out.textContent = '';
        return;
      }
      var same = a.normalize('NFKC') === first.value.normalize('NFKC');
      out.setAttribute('data-state', same ? 'met' : 'unmet');
      var text = out.getAttribute(same ? 'data-yes' : 'data-no');
      if (out.textContent !== text) { out.textContent = text; }
    };
    again.addEventListener('input', show);
    first.addEventListener('input', function () { if (again.value !== '') { show(); } });
  });

  // Resend countdown: the button is enabled when the cool-down is over.
  document.querySelectorAll('button[data-wait]').forEach(function (btn) {
    var box = byId(btn.getAttribute('data-wait'));
    var out = box && box.querySelector('.seconds');
    var left = box ? parseInt(box.getAttribute('data-countdown'), 10) : 0;
    if (!out || !(left > 0)) { return; }
    btn.disabled = true;
    // The sentence follows the number's plural form ("1 second", "2 seconds").
    var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(document.documentElement.lang) : null;
    var say = function (n) {
      var text = (plural && box.getAttribute('data-' + plural.select(n))) || box.getAttribute('data-other');
      var at = text ? text.indexOf('{n}') : -1;
      if (at < 0) { out.textContent = String(n); return; }
      out.textContent = String(n);
      while (box.firstChild) { box.removeChild(box.firstChild); }
      box.appendChild(document.createTextNode(text.slice(0, at)));
      box.appendChild(out);
      box.appendChild(document.createTextNode(text.slice(at + 3)));
    };
    var timer = setInterval(function () {
      left -= 1;
      say(Math.max(left, 0));
      if (left <= 0) {
        clearInterval(timer);
        box.hidden = true;
        btn.disabled = false;
        btn.removeAttribute('aria-describedby');
      }
    }, 1000);
  });

  // A language switch keeps what was typed: before the switch loads the page in another
  // language, the page's non-secret fields (identifiers, names) are kept in sessionStorage
  // for the page the switch leads to, and put back once when it loads; the next load of any
  // page clears them. Never kept: passwords (also while an eye toggle shows one as text),
  // codes, tokens, hidden fields, checkboxes. Without this script the switch is a plain
  // link and what was typed is lost: a link cannot carry it without putting identifiers in
  // the address.
  var typedKey = 'kilt.typed';
  var keptTypes = { text: true, email: true, tel: true, search: true, url: true };
  var secret = /pass|code|token|otp|secret/i;
  var toggled = {};
  eyes.forEach(function (btn) { toggled[btn.getAttribute('aria-controls')] = true; });
  var keepable = function (input) {
    var auto = input.getAttribute('autocomplete') || '';
    var type = (input.getAttribute('type') || 'text').toLowerCase();
    return keptTypes[type] === true && !toggled[input.id] && !secret.test(input.name || '') &&
      !secret.test(input.id) && !/password|one-time-code/.test(auto) && !input.disabled && !input.readOnly;
  };
  var keepTyped = function (path) {
    var fields = {};
    document.querySelectorAll('main form input').forEach(function (input) {
      var key = input.id || input.name;
      if (key && input.value !== '' && keepable(input)) { fields[key] = input.value; }
    });
    try {
      sessionStorage.removeItem(typedKey);
      if (Object.keys(fields).length > 0) {
        sessionStorage.setItem(typedKey, JSON.stringify({ path: path, fields: fields }));
      }
    } catch (e) { /* no storage: the switch loses what was typed, as without this script */ }
  };
  document.querySelectorAll('nav.langs a[href]').forEach(function (a) {
    a.addEventListener('click', function () { keepTyped(new URL(a.href, location.href).pathname); });
  });
  document.querySelectorAll('nav.langs form').forEach(function (form) {
    form.addEventListener('submit', function () { keepTyped(new URL(form.action, location.href).pathname); });
  });
  (function restoreTyped() {
    var kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(typedKey) || 'null');
      sessionStorage.removeItem(typedKey);
    } catch (e) { return; }
    if (!kept || kept.path !== location.pathname || !kept.fields) { return; }
    document.querySelectorAll('main form input').forEach(function (input) {
      var key = input.id || input.name;
      if (!key || !Object.prototype.hasOwnProperty.call(kept.fields, key)) { return; }
      // What the server filled in wins; a field that must not be kept gets nothing.
      if (input.value === '' && keepable(input)) { input.value = String(kept.fields[key]); }
    });
  })();

  // A form's errors: move the focus to their summary, so a screen reader reads it first.
  var summary = byId('error-summary');
  if (summary) { summary.focus(); }
})();
