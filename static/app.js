// Contact Vault: progressive enhancement only. Every page works without this
// file; it is loaded with `defer` from /static (CSP: script-src 'self').
'use strict';

(function () {
  var WARN_AT_SECONDS = 120;
  function warnMessage(left) {
    var minutes = Math.max(1, Math.ceil(left / 60));
    return 'Your session ends in ' + minutes + (minutes === 1 ? ' minute' : ' minutes') +
      '. Reload or continue working to stay signed in.';
  }
  var EXPIRED_URL = '/login?expired=1';
  // The server's idle clock restarts with every request, and a page's last requests (its icon,
  // an image) may come a moment after this script started counting: leave a little after zero
  // so that the server has really ended the session by then.
  var END_GRACE_MS = 2000;

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
        window.setTimeout(function () { window.location.assign(EXPIRED_URL); }, END_GRACE_MS);
        return;
      }
      el.textContent = pad2(Math.floor(left / 60)) + ':' + pad2(left % 60) + ' left';
      if (left <= WARN_AT_SECONDS && !warned) {
        warned = true;
        el.classList.add('countdown-warn');
        live.textContent = warnMessage(left);
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

  // CAPTCHA refresh: the "New image" button (hidden without JS) asks the
  // server for a fresh image; its answer replaces the old one server-side.
  // The server limits how often this may happen.
  function initCaptchaRefresh() {
    var button = document.getElementById('captcha-refresh');
    var image = document.getElementById('captcha-image');
    var input = document.getElementById('captcha');
    var audio = document.getElementById('captcha-audio');
    if (!button || !image) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      image.src = '/captcha?r=' + Date.now();
      // The recording says the current challenge: drop the one already loaded, so the next
      // play fetches the new image's characters.
      if (audio) {
        audio.pause();
        audio.src = '/captcha/audio?r=' + Date.now();
        audio.load();
      }
      if (input) {
        input.value = '';
        input.focus();
      }
    });
  }

  // Live validation for forms marked data-live-validate: uses the browser's
  // constraint checks (required, type, pattern, maxlength, min) and writes a
  // plain message into the field's error element (aria-describedby). The
  // server checks everything again; this only helps while typing.
  function messageFor(field) {
    var v = field.validity;
    if (v.valid) return '';
    if (v.valueMissing) return field.type === 'radio' ? 'Please choose one.' : 'This field is required.';
    if (v.typeMismatch && field.type === 'email') return 'Enter a valid e-mail address, like name@example.com.';
    if (v.patternMismatch && field.type === 'tel') return 'Use digits, spaces and + ( ) . - only (7 or more).';
    if (v.tooLong) return 'This is too long.';
    if (v.rangeUnderflow) return 'Choose today or a later date.';
    return field.validationMessage || 'Please check this field.';
  }

  function errorElementOf(field) {
    var ids = (field.getAttribute('aria-describedby') || '').split(/\s+/);
    for (var i = 0; i < ids.length; i++) {
      var el = ids[i] && document.getElementById(ids[i]);
      if (el && el.classList.contains('field-error')) return el;
    }
    return null;
  }

  function showValidity(field) {
    var target = field.type === 'radio' ? field.form.querySelector('input[type=radio][name="' + field.name + '"]') : field;
    var box = errorElementOf(target);
    if (!box) return true;
    var message = messageFor(target.type === 'radio' ? target : field);
    box.textContent = message;
    if (message) {
      target.setAttribute('aria-invalid', 'true');
    } else {
      target.removeAttribute('aria-invalid');
    }
    return !message;
  }

  function initLiveValidation() {
    var forms = document.querySelectorAll('form[data-live-validate]');
    Array.prototype.forEach.call(forms, function (form) {
      var touched = {};
      form.addEventListener('input', function (e) {
        if (touched[e.target.name]) showValidity(e.target);
      });
      form.addEventListener('change', function (e) {
        touched[e.target.name] = true;
        showValidity(e.target);
      });
      form.addEventListener('focusout', function (e) {
        if (!e.target.name || e.target.type === 'hidden') return;
        touched[e.target.name] = true;
        showValidity(e.target);
      });
      form.addEventListener('submit', function (e) {
        var firstBad = null;
        Array.prototype.forEach.call(form.elements, function (field) {
          if (!field.name || field.type === 'hidden' || field.closest('.hp')) return;
          if (!showValidity(field) && !firstBad) firstBad = field;
        });
        if (firstBad) {
          e.preventDefault();
          firstBad.focus();
        }
      });
    });
  }

  // Upload progress for <form data-upload-progress> (the import page): the file goes up by
  // XMLHttpRequest so that a <progress> bar can follow it, then the page the server answers
  // with (the book after a redirect, or the form with its messages) replaces this one, as a
  // plain submit would have shown it. Without this script the form posts as usual.
  function initUploadProgress() {
    var forms = document.querySelectorAll('form[data-upload-progress]');
    Array.prototype.forEach.call(forms, function (form) {
      var box = form.querySelector('.upload-progress');
      var bar = box && box.querySelector('progress');
      var status = box && box.querySelector('[role=status]');
      if (!box || !bar || !status || !window.FormData) return;
      form.addEventListener('submit', function (event) {
        if (event.defaultPrevented) return;
        event.preventDefault();
        var button = form.querySelector('button[type=submit]');
        if (button) button.disabled = true;
        box.hidden = false;
        bar.value = 0;
        status.textContent = 'Uploading…';
        var xhr = new XMLHttpRequest();
        xhr.open('POST', form.action);
        xhr.upload.addEventListener('progress', function (e) {
          if (!e.lengthComputable) return;
          var percent = Math.floor((e.loaded / e.total) * 100);
          bar.value = percent;
          status.textContent = 'Uploading: ' + percent + ' %';
        });
        xhr.upload.addEventListener('load', function () {
          bar.removeAttribute('value');
          status.textContent = 'Uploaded. Checking and storing the contacts…';
        });
        xhr.addEventListener('load', function () {
          if (xhr.responseURL && xhr.responseURL !== window.location.href) {
            window.history.replaceState(null, '', xhr.responseURL);
          }
          document.open();
          document.write(xhr.responseText);
          document.close();
        });
        xhr.addEventListener('error', function () {
          if (button) button.disabled = false;
          status.textContent = 'The upload failed (the connection broke). Try again.';
        });
        xhr.send(new FormData(form));
      });
    });
  }

  function init() {
    initSessionCountdown();
    initConfirmForms();
    initCaptchaRefresh();
    initLiveValidation();
    initUploadProgress();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
