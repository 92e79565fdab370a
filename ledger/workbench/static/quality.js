// The quality pages' script (no build step; CSP: same-origin scripts only).
// - The return-visit card's live total and band: the four scores' sum over their count, and
//   the band whose range of sums holds it. The ranges are the page's data (data-bands),
//   computed on the server from the domain's rule (ledger/workbench/quality.py), so this
//   script holds no copy of the bands; the server's answer after posting is the authority.
// - The customer's signature: the pad of static/signature.js; on submit its PNG goes to the
//   visit's evidence (POST /visits/{V}/attachments, kind signature, with the session and the
//   CSRF token) before the form records who signed.
(function () {
  "use strict";

  function liveScore(box) {
    var bands = JSON.parse(box.getAttribute("data-bands"));
    var count = parseInt(box.getAttribute("data-count"), 10);
    var max = parseInt(box.getAttribute("data-score-max"), 10);
    var inputs = box.querySelectorAll("[data-score]");
    var total = document.getElementById("live-total");
    var band = document.getElementById("live-band");

    function update() {
      var sum = 0;
      var complete = inputs.length === count;
      inputs.forEach(function (input) {
        var text = input.value.trim();
        var value = /^\d+$/.test(text) ? parseInt(text, 10) : NaN;
        if (isNaN(value) || value > max) complete = false;
        else sum += value;
      });
      if (!complete) {
        total.textContent = "—";
        band.textContent = "—";
        band.removeAttribute("data-band");
        return;
      }
      var found = bands.filter(function (b) { return b.low <= sum && sum <= b.high; })[0];
      total.textContent = String(Math.round((sum / count) * 100) / 100);
      band.textContent = found ? found.label : "—";
      if (found) band.setAttribute("data-band", found.band);
    }

    inputs.forEach(function (input) { input.addEventListener("input", update); });
    update();
  }

  function signaturePad(form) {
    var box = form.querySelector(".signature");
    var error = document.getElementById("signature-error");
    var pad = new SignaturePad(
      document.getElementById("signature-pad"), document.getElementById("signature-clear"));

    form.addEventListener("submit", function (event) {
      if (!pad.drawn) return; // a signature typed by name only (a phone visit signed later)
      event.preventDefault();
      var key = form.querySelector("[name=idempotency_key]").value + "-signature";
      var data = new FormData();
      data.append("file", pad.png(), "signature.png");
      data.append("kind", "signature");
      window.Workbench.upload(box.getAttribute("data-upload"), data, {idempotencyKey: key})
        .then(function (answer) {
          // A submit sent again re-sends the picture under the same key: answered again (200)
          if (answer.ok) {
            pad.drawn = false;
            HTMLFormElement.prototype.submit.call(form);
          } else {
            error.textContent = (answer.data && (answer.data.detail || answer.data.title)) || String(answer.status);
            error.hidden = false;
          }
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("live-score");
    if (box) liveScore(box);
    var sign = document.getElementById("form-visit_sign");
    if (sign && document.getElementById("signature-pad")) signaturePad(sign);
  });
})();
