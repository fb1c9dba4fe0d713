// The console's only script: live updates, as progressive enhancement (every page works without
// it). The page's `data-live` region is re-fetched from its URL whenever the server-sent event
// stream at /console/events says the audit log moved (every approval, decision, revocation and
// suspension writes to it), and merged in place: items are keyed by `id`, an item whose `data-v`
// is unchanged, or that holds the focus or something typed, is kept as it is, so a reason being
// written into an approval card is never wiped by an update. Served from Mandate itself (CSP
// `script-src 'self'`); no framework: about fifty lines do it.

export const LIVE_JS = `(function () {
  'use strict';
  var region = document.querySelector('[data-live]');
  if (!region || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var busy = false, again = false;
  function touched(el) {
    if (el.contains(document.activeElement)) return true;
    var inputs = el.querySelectorAll('input:not([type=hidden]), textarea, select');
    for (var i = 0; i < inputs.length; i++) {
      var x = inputs[i];
      if (x.type === 'checkbox' ? x.checked !== x.defaultChecked : x.value !== x.defaultValue) return true;
    }
    return false;
  }
  function merge(fresh) {
    var old = {};
    Array.prototype.forEach.call(region.children, function (c) { if (c.id) old[c.id] = c; });
    var next = Array.prototype.map.call(fresh.children, function (c) {
      var had = c.id && old[c.id];
      if (had && (had.getAttribute('data-v') === c.getAttribute('data-v') || touched(had))) return had;
      return document.importNode(c, true);
    });
    region.replaceChildren.apply(region, next);
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(region.getAttribute('data-live'), { credentials: 'same-origin', headers: { accept: 'text/html' } })
      .then(function (r) {
        if (r.redirected || r.status === 401 || r.status === 403) { location.reload(); return; }
        if (!r.ok) return;
        return r.text().then(function (html) {
          var fresh = new DOMParser().parseFromString(html, 'text/html').querySelector('[data-live]');
          if (fresh) merge(fresh);
        });
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  function connect() {
    var events = new EventSource('/console/events');
    // On (re)connection too: whatever changed while the stream was not yet (or no longer) open.
    events.addEventListener('open', refresh);
    events.addEventListener('change', refresh);
    // The session the stream was opened with ended: the refresh finds out whether this browser's
    // session did too (then the page goes to sign-in); if not, listen again with the current one.
    events.addEventListener('signout', function () { events.close(); refresh(); setTimeout(connect, 1000); });
  }
  connect();
  document.documentElement.setAttribute('data-live-ready', '1');
})();
`;
