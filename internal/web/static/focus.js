// Sleutelbos: after a form error, move the focus to the error summary at the top of the page
// (the GOV.UK pattern), so a screen reader reads it first and the keyboard starts from it. The
// summary also has autofocus; every page works without this script.
(function () {
  'use strict';
  var summary = document.getElementById('error-summary');
  if (summary && document.activeElement !== summary) {
    summary.focus();
  }
})();

// The phase-out pop-up (templates/login_prompt.html) is a page that works without this script.
// With it, the dialog opens modally: the rest of the page is inert and focus stays inside, and
// Esc answers like the × button (choice=close) instead of leaving an empty page behind.
(function () {
  'use strict';
  var dialog = document.querySelector('dialog[data-modal]');
  if (!dialog || typeof dialog.showModal !== 'function') {
    return;
  }
  dialog.close();
  dialog.showModal();
  dialog.addEventListener('cancel', function (event) {
    event.preventDefault();
    var close = dialog.querySelector('[data-close]');
    if (close) {
      close.click();
    }
  });
  // Tab past the last button comes back to the first (×), Shift+Tab past the first to the
  // last: the browser would otherwise move on to its own address bar.
  dialog.addEventListener('keydown', function (event) {
    if (event.key !== 'Tab') {
      return;
    }
    var items = dialog.querySelectorAll('button, [href], input:not([type=hidden]), [tabindex]:not([tabindex="-1"])');
    if (items.length === 0) {
      return;
    }
    var first = items[0];
    var last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  var summary = document.getElementById('error-summary');
  if (summary) {
    summary.focus();
  }
})();
