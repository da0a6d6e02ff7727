// The consent screen's list of what the signature confirms: the label of
// every cell switched on, kept in step with the switches, so that the
// customer reads exactly what they sign (GDPR Art. 7(2)).
(function () {
  "use strict";
  var list = document.getElementById("confirms-list");
  if (!list) { return; }
  function update() {
    var boxes = document.querySelectorAll("input[name=cell]");
    list.textContent = "";
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) {
        var li = document.createElement("li");
        li.textContent = boxes[i].getAttribute("data-label");
        list.appendChild(li);
      }
    }
    if (!list.firstChild) {
      var none = document.createElement("li");
      none.textContent = list.getAttribute("data-none");
      list.appendChild(none);
    }
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "cell") { update(); }
  });
  update();
})();
