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
