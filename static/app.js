// Contact Vault: progressive enhancement only. Every page works without this
// file; it is loaded with `defer` from /static (CSP: script-src 'self').
'use strict';

(function () {
  var WARN_AT_SECONDS = 120;
  var WARN_MESSAGE = 'Your session ends in 2 minutes. Reload or continue working to stay signed in.';
  var EXPIRED_URL = '/login?expired=1';

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  // Session countdown: <span id="session-countdown" data-seconds="N">.
  // The time left is computed from a fixed deadline on every tick, so a
  // throttled background tab or a sleeping laptop still shows the truth.
  function initSessionCountdown() {
    var el = document.getElementById('session-countdown');
    if (!el) return;
    var seconds = parseInt(el.getAttribute('data-seconds'), 10);
    if (!isFinite(seconds) || seconds < 0) return;

    var deadline = Date.now() + seconds * 1000;
    var live = document.getElementById('session-announcer');
    if (!live) {
      live = document.createElement('span');
      live.className = 'visually-hidden';
      live.setAttribute('aria-live', 'polite');
      el.parentNode.insertBefore(live, el.nextSibling);
    }
    var warned = false;
    var timer = null;

    function tick() {
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      if (left <= 0) {
        if (timer !== null) window.clearInterval(timer);
        timer = null;
        el.classList.add('countdown-warn');
        el.textContent = 'Session ended';
        window.location.assign(EXPIRED_URL);
        return;
      }
      el.textContent = pad2(Math.floor(left / 60)) + ':' + pad2(left % 60) + ' left';
      if (left <= WARN_AT_SECONDS && !warned) {
        warned = true;
        el.classList.add('countdown-warn');
        live.textContent = WARN_MESSAGE;
      }
    }

    tick();
    if (Date.now() < deadline) timer = window.setInterval(tick, 1000);
    // Re-check at once when the tab becomes visible again.
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && timer !== null) tick();
    });
  }

  // <form data-confirm="Delete this contact?">: quick confirm() before the
  // submit. The server still asks for its own confirmation; this is only a
  // shortcut. A submit button may carry its own data-confirm to override.
  function initConfirmForms() {
    document.addEventListener('submit', function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      var submitter = event.submitter;
      var message = (submitter && submitter.getAttribute('data-confirm')) ||
        form.getAttribute('data-confirm');
      if (!message) return;
      if (!window.confirm(message)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }, true);
  }

  // ---------------------------------------------------------------------
  // TODO (later): CAPTCHA refresh, e.g. a "New image" button beside the
  // CAPTCHA that fetches a fresh challenge and swaps the image and its
  // hidden token, without reloading the form.
  //
  // TODO (later): live form validation, e.g. on blur/input set
  // aria-invalid and fill the .field-error element that follows the field,
  // mirroring the server-side rules (the server stays the authority).
  // Register both in the DOMContentLoaded handler below.
  // ---------------------------------------------------------------------

  function init() {
    initSessionCountdown();
    initConfirmForms();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
