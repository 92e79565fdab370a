// The customer's signature pad (no build step; CSP: same-origin scripts only), one for the
// engineer's phone (phone.js) and the return-visit card (quality.js): pointer strokes (a
// finger, a pen, the mouse) on a canvas over white, kept as a PNG; the clear button wipes it.
// Each page decides what the PNG becomes (queued evidence, an upload before the form).
(function () {
  "use strict";

  function SignaturePad(canvas, clearButton) {
    var pad = this, context = canvas.getContext("2d"), drawing = false;
    this.canvas = canvas;
    this.drawn = false;

    function wipe() {
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      pad.drawn = false;
    }
    function point(event) {
      var rect = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - rect.left) * (canvas.width / rect.width),
        y: (event.clientY - rect.top) * (canvas.height / rect.height),
      };
    }

    wipe();
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.strokeStyle = "#111";
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
      pad.drawn = true;
    });
    ["pointerup", "pointercancel"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    clearButton.addEventListener("click", wipe);
  }

  // The drawing as a PNG file, at once (the phone's queue keeps it while offline).
  SignaturePad.prototype.png = function () {
    var bytes = atob(this.canvas.toDataURL("image/png").split(",")[1]);
    var array = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
    return new Blob([array], {type: "image/png"});
  };

  window.SignaturePad = SignaturePad;
})();
