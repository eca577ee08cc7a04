// Kilt pages work without this script; it only adds the eye toggles, the live password
// checklist and the resend countdown. No framework, no inline code (the CSP forbids it).
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

  // The password checklist: rules and their messages from the policy endpoint, checked as
  // one types. The server checks them all again; rules only it can check (common
  // passwords, history) stay unmarked.
  var list = document.querySelector('ul[data-policy]');
  var pw = list && byId(list.getAttribute('data-for'));
  if (list && pw) {
    var confirm = byId(list.getAttribute('data-confirm'));
    var strength = byId(pw.id + '-strength');
    var min = 8, max = 128;
    var chars = function (s) { return Array.from(s.normalize('NFKC')).length; };
    var checks = {
      password_too_short: function (p) { return chars(p) >= min; },
      password_too_long: function (p) { return chars(p) <= max; },
      password_no_upper: function (p) { return /[A-Z]/.test(p); },
      password_no_lower: function (p) { return /[a-z]/.test(p); },
      password_no_digit: function (p) { return /[0-9]/.test(p); },
      password_no_special: function (p) { return /[^A-Za-z0-9]/.test(p.normalize('NFKC')); },
      password_mismatch: function (p, c) { return c !== '' && p.normalize('NFKC') === c.normalize('NFKC'); }
    };
    var update = function () {
      var p = pw.value, c = confirm ? confirm.value : '';
      list.querySelectorAll('li[data-rule]').forEach(function (li) {
        var check = checks[li.getAttribute('data-rule')];
        var state = li.querySelector('.state');
        if (!check) { return; }
        if (!state) {
          state = document.createElement('span');
          state.className = 'visually-hidden state';
          li.appendChild(state);
        }
        var ok = p !== '' && check(p, c);
        li.classList.toggle('met', ok);
        li.classList.toggle('unmet', p !== '' && !ok);
        state.textContent = ' (' + list.getAttribute(ok ? 'data-met' : 'data-unmet') + ')';
      });
      if (strength) {
        var n = chars(p), classes = 0;
        [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].forEach(function (re) { if (re.test(p)) { classes++; } });
        var level = n < min || classes < 3 ? 'weak' : (n >= 12 && classes === 4 ? 'strong' : 'fair');
        strength.hidden = p === '';
        strength.textContent = p === '' ? '' : strength.getAttribute('data-' + level);
      }
    };
    var shown = {};
    list.querySelectorAll('li[data-rule]').forEach(function (li) { shown[li.getAttribute('data-rule')] = li; });
    fetch('/api/v1/password-policy?lang=' + encodeURIComponent(document.documentElement.lang), {
      headers: { 'Accept': 'application/json' }, credentials: 'same-origin'
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (policy) {
      if (!policy) { return; }
      min = policy.min_length || min;
      max = policy.max_length || max;
      (policy.rules || []).forEach(function (rule) {
        var li = shown[rule.code];
        if (li && rule.message) { li.textContent = rule.message; }
      });
      update();
    }).catch(function () { /* the list the server rendered stays as it is */ });
    pw.addEventListener('input', update);
    if (confirm) { confirm.addEventListener('input', update); }
  }

  // Resend countdown: the button is enabled when the cool-down is over.
  document.querySelectorAll('button[data-wait]').forEach(function (btn) {
    var box = byId(btn.getAttribute('data-wait'));
    var out = box && box.querySelector('.seconds');
    var left = box ? parseInt(box.getAttribute('data-countdown'), 10) : 0;
    if (!out || !(left > 0)) { return; }
    btn.disabled = true;
    var timer = setInterval(function () {
      left -= 1;
      out.textContent = String(Math.max(left, 0));
      if (left <= 0) {
        clearInterval(timer);
        box.hidden = true;
        btn.disabled = false;
        btn.removeAttribute('aria-describedby');
      }
    }, 1000);
  });

  // A form's errors: move the focus to their summary, so a screen reader reads it first.
  var summary = byId('error-summary');
  if (summary) { summary.focus(); }
})();
