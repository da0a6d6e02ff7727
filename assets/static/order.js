// The counter's order form: customer search as you type, and the total.
(function () {
  "use strict";
  var search = document.getElementById("search");
  var results = document.getElementById("search-results");
  var idField = document.getElementById("customer_id");
  var chosen = document.getElementById("customer-chosen");
  var fields = ["salutation", "first_name", "last_name", "street", "postal_code", "city", "email", "mobile", "phone"];
  var timer = null;

  function fill(c) {
    idField.value = c ? c.id : "";
    fields.forEach(function (f) {
      var el = document.getElementById(f);
      if (el) { el.value = c ? (c[f] || "") : ""; el.readOnly = !!c; }
    });
    var lang = document.getElementById("customer_lang");
    if (lang && c) { lang.value = c.lang || "de"; }
    chosen.classList.toggle("hidden", !c);
    results.textContent = "";
  }

  function show(list) {
    results.textContent = "";
    list.forEach(function (c) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      // textContent, never innerHTML: names are what customers typed.
      b.textContent = [c.first_name, c.last_name].join(" ") + " · " + (c.email || c.mobile || c.phone || c.city || "");
      b.addEventListener("click", function () { fill(c); });
      li.appendChild(b);
      results.appendChild(li);
    });
  }

  if (search) {
    search.addEventListener("input", function () {
      clearTimeout(timer);
      var q = search.value.trim();
      if (q.length < 2) { results.textContent = ""; return; }
      timer = setTimeout(function () {
        fetch(search.dataset.search + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(show)
          .catch(function () { results.textContent = ""; });
      }, 150);
    });
  }
  var clear = document.getElementById("customer-clear");
  if (clear) { clear.addEventListener("click", function () { fill(null); }); }
  if (idField && idField.value) { fields.forEach(function (f) { var el = document.getElementById(f); if (el) { el.readOnly = true; } }); }

  // The same rule as the server's parseEuros (pos/forms.go): "1.000" is a
  // thousand; "1.000,50", "1000,50" and "1000.50" a thousand and fifty
  // cents; anything else is ambiguous and counts as nothing here (the
  // server refuses it with a message).
  function cents(v) {
    v = (v || "").replace(/\s|€/g, "");
    var n;
    if (v === "") { return 0; }
    if (/^(\d{1,3}(\.\d{3})+|\d+)(,\d{1,2})?$/.test(v)) { n = parseFloat(v.replace(/\./g, "").replace(",", ".")); }
    else if (/^\d{1,3}(\.\d{3})+$/.test(v)) { n = parseFloat(v.replace(/\./g, "")); }
    else if (/^\d+\.\d{1,2}$/.test(v)) { n = parseFloat(v); }
    else { return 0; }
    return isNaN(n) ? 0 : Math.round(n * 100);
  }
  function total() {
    var sum = 0;
    for (var i = 0; ; i++) {
      var p = document.querySelector('[name="item_price_' + i + '"]');
      if (!p) { break; }
      var q = parseInt(document.querySelector('[name="item_quantity_' + i + '"]').value, 10) || 0;
      sum += cents(p.value) * q;
    }
    var out = document.getElementById("total");
    if (out) { out.textContent = (sum / 100).toLocaleString(document.documentElement.lang === "en" ? "en-GB" : "de-DE", { style: "currency", currency: "EUR" }); }
  }
  var form = document.getElementById("order-form");
  if (form) { form.addEventListener("input", total); total(); }
})();
