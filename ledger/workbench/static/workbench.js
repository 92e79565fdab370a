// The workbench's page script (no build step; CSP allows only same-origin scripts).
// - Workbench.post(url, body, {idempotencyKey, ifMatch}): a JSON write to the write API with
//   the session cookie and the page's CSRF token (X-CSRF-Token), the API's answer as JSON.
// - Live countdowns: every element with data-deadline (an ISO time) shows the minutes left
//   (or overdue) and is refreshed each 15 s, so a queue's "at risk" row counts down.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return "wb-" + window.crypto.randomUUID();
    return "wb-" + Date.now().toString(16) + "-" + Math.random().toString(16).slice(2);
  }

  function post(url, body, options) {
    options = options || {};
    var headers = {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()};
    headers["Idempotency-Key"] = options.idempotencyKey || newKey();
    if (options.ifMatch) headers["If-Match"] = options.ifMatch;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (data) {
        return {ok: response.ok, status: response.status, data: data};
      });
    });
  }

  function upload(url, formData, options) {
    options = options || {};
    var headers = {"X-CSRF-Token": csrfToken()};
    headers["Idempotency-Key"] = options.idempotencyKey || newKey();
    return fetch(url, {method: "POST", credentials: "same-origin", headers: headers, body: formData})
      .then(function (response) {
        return response.json().then(function (data) {
          return {ok: response.ok, status: response.status, data: data};
        });
      });
  }

  var lang = document.body ? document.body.getAttribute("data-lang") : "zh";

  function countdownText(minutes) {
    var late = minutes < 0;
    var m = Math.abs(minutes);
    var h = Math.floor(m / 60);
    var rest = m % 60;
    var span;
    if (lang === "en") {
      span = (h ? h + " h " : "") + rest + " min";
      return late ? "overdue " + span : span + " left";
    }
    span = (h ? h + " 小时 " : "") + rest + " 分钟";
    return late ? "已超时 " + span : "剩余 " + span;
  }

  // The server's clock when the page was rendered (body data-now): countdowns run from it,
  // so a page agrees with the ledger's clock even when the browser's is off.
  var serverNow = document.body ? Date.parse(document.body.getAttribute("data-now")) : NaN;
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(deadline)) return;
      var minutes = Math.floor((deadline - now) / 60000);
      el.textContent = countdownText(minutes);
      el.classList.toggle("late", minutes < 0);
    });
  }

  window.Workbench = {post: post, upload: upload, csrfToken: csrfToken, newKey: newKey, tick: tick};
  // The intake form: the promise follows the chosen severity; a remembered contact fills
  // in their phone; the open tickets of the same device are marked (possible duplicates).
  function intake() {
    var severity = document.getElementById("severity");
    var promise = document.getElementById("promise");
    if (severity && promise) {
      severity.addEventListener("change", function () {
        var option = severity.options[severity.selectedIndex];
        promise.textContent = option.getAttribute("data-promise") || "";
      });
    }
    var name = document.querySelector('#report input[name="contact_name"]');
    var phone = document.querySelector('#report input[name="contact_phone"]');
    if (name && phone) {
      name.addEventListener("change", function () {
        document.querySelectorAll("#contacts option").forEach(function (option) {
          if (option.value === name.value && !phone.value) phone.value = option.getAttribute("data-phone");
        });
      });
    }
    var device = document.querySelector('#report input[name="device"]');
    if (device) {
      device.addEventListener("input", function () {
        document.querySelectorAll("#open-tickets li[data-device]").forEach(function (li) {
          li.classList.toggle("sla-at_risk", !!device.value && li.getAttribute("data-device") === device.value);
        });
      });
    }
  }

  // A ticket's attachment: sent to the write API's upload endpoint with the session and
  // the CSRF header; the page reloads to show its preview in the list.
  function uploads() {
    var form = document.getElementById("upload");
    if (!form) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = form.querySelector('input[type="file"]');
      if (!input.files.length) return;
      var data = new FormData();
      data.append("file", input.files[0]);
      data.append("kind", form.querySelector('select[name="kind"]').value);
      upload(form.getAttribute("data-url"), data).then(function (answer) {
        var result = document.getElementById("upload-result");
        if (answer.ok) {
          result.textContent = form.getAttribute("data-done");
          window.location.reload();
        } else {
          result.textContent = answer.data.detail || String(answer.status);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 15000);
    intake();
    uploads();
  });
  document.addEventListener("htmx:afterSwap", tick);
})();
