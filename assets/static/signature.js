// The signature pad. It keeps only the drawn image: no pressure, speed or
// timing is recorded, since signature dynamics can be biometric data
// (GDPR Art. 4(14), Art. 9).
(function () {
  "use strict";
  var canvas = document.getElementById("signature-pad");
  if (!canvas) { return; }
  var ctx = canvas.getContext("2d");
  var out = document.getElementById("signature");
  var drawing = false, inked = false, last = null;

  function fit() {
    var r = canvas.getBoundingClientRect();
    canvas.width = Math.round(r.width);
    canvas.height = Math.round(r.height);
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";
  }
  function point(e) {
    var r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }
  canvas.addEventListener("pointerdown", function (e) {
    drawing = true; last = point(e);
    canvas.setPointerCapture(e.pointerId);
    ctx.beginPath(); ctx.arc(last.x, last.y, 1.5, 0, 2 * Math.PI); ctx.fill();
    inked = true;
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drawing) { return; }
    var p = point(e);
    ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
    last = p; inked = true;
  });
  function stop() { drawing = false; }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  document.getElementById("signature-clear").addEventListener("click", function () {
    ctx.clearRect(0, 0, canvas.width, canvas.height); inked = false; out.value = "";
  });
  canvas.closest("form").addEventListener("submit", function () {
    out.value = inked ? canvas.toDataURL("image/png") : "";
  });
  fit();
  // A signature kept while the screen asked a question is drawn again.
  if (out.value) {
    var img = new Image();
    img.onload = function () { ctx.drawImage(img, 0, 0, canvas.width, canvas.height); inked = true; };
    img.src = out.value;
  }
})();
