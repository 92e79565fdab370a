// The quality pages' script (no build step; CSP: same-origin scripts only).
// - The return-visit card's live total and band: the four scores' sum over their count, and
//   the band whose range of sums holds it. The ranges are the page's data (data-bands),
//   computed on the server from the domain's rule (ledger/workbench/quality.py), so this
//   script holds no copy of the bands; the server's answer after posting is the authority.
// - The customer's signature: a canvas pad; on submit its PNG goes to the visit's evidence
//   (POST /visits/{V}/attachments, kind signature, with the session and the CSRF token)
//   before the form records who signed.
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
    var canvas = document.getElementById("signature-pad");
    var error = document.getElementById("signature-error");
    var context = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.strokeStyle = "#111";

    function point(event) {
      var rect = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - rect.left) * (canvas.width / rect.width),
        y: (event.clientY - rect.top) * (canvas.height / rect.height),
      };
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      var p = point(event);
      context.beginPath();
      context.moveTo(p.x, p.y);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      var p = point(event);
      context.lineTo(p.x, p.y);
      context.stroke();
      drawn = true;
    });
    canvas.addEventListener("pointerup", function () { drawing = false; });
    document.getElementById("signature-clear").addEventListener("click", function () {
      context.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
    });

    form.addEventListener("submit", function (event) {
      if (!drawn) return; // a signature typed by name only (a phone visit signed later)
      event.preventDefault();
      var key = form.querySelector("[name=idempotency_key]").value + "-signature";
      canvas.toBlob(function (blob) {
        var data = new FormData();
        data.append("file", blob, "signature.png");
        data.append("kind", "signature");
        window.Workbench.upload(box.getAttribute("data-upload"), data, {idempotencyKey: key})
          .then(function (answer) {
            // 409: this very picture is already on the card (a submit sent again)
            if (answer.ok || answer.status === 409) {
              drawn = false;
              HTMLFormElement.prototype.submit.call(form);
            } else {
              error.textContent = (answer.data && (answer.data.detail || answer.data.title)) || String(answer.status);
              error.hidden = false;
            }
          });
      }, "image/png");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("live-score");
    if (box) liveScore(box);
    var sign = document.getElementById("form-visit_sign");
    if (sign && document.getElementById("signature-pad")) signaturePad(sign);
  });
})();
