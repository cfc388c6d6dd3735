// Mailed links carry their one-time code in the URL fragment (/verify#wxv_..., /reset#wxr_...):
// browsers never send a fragment to a server, and mail scanners that fetch links cannot spend
// it. This copies the code into the form's hidden field, shows that it is ready, and removes
// it from the address bar. Without script the page asks for the code to be pasted instead.
(function () {
  'use strict';
  var raw = window.location.hash.slice(1);
  if (!raw) return;
  var token;
  try {
    token = decodeURIComponent(raw).replace(/\s+/g, '');
  } catch (e) {
    return;
  }
  if (!/^wx[vr]_[A-Za-z0-9]{12}\.[A-Za-z0-9_-]{43}$/.test(token)) return;
  var fields = document.querySelectorAll('input[data-token-from-fragment]');
  if (fields.length === 0) return;
  for (var i = 0; i < fields.length; i++) fields[i].value = token;
  var hide = document.querySelectorAll('[data-fragment-hide]');
  for (var j = 0; j < hide.length; j++) hide[j].hidden = true;
  var show = document.querySelectorAll('[data-fragment-show]');
  for (var k = 0; k < show.length; k++) show[k].hidden = false;
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
})();
