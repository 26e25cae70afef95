// The "Organization users" page works without this file; with it, a
// checkbox selects every user on the page, and the bulk button says how
// many are selected.
(function () {
  'use strict';
  var all = document.getElementById('pg-select-all');
  if (!all) return;
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[name="target"]'));
  var status = document.getElementById('pg-status');
  all.hidden = false;
  function announce() {
    var n = boxes.filter(function (b) { return b.checked; }).length;
    all.checked = n > 0 && n === boxes.length;
    all.indeterminate = n > 0 && n < boxes.length;
    if (status) status.setAttribute('data-selected', String(n));
  }
  all.addEventListener('change', function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
    announce();
  });
  boxes.forEach(function (b) { b.addEventListener('change', announce); });
  announce();
})();
