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

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(deadline)) return;
      var minutes = Math.floor((deadline - now) / 60000);
      el.textContent = countdownText(minutes);
      el.classList.toggle("late", minutes < 0);
    });
  }

  window.Workbench = {post: post, upload: upload, csrfToken: csrfToken, newKey: newKey, tick: tick};
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 15000);
  });
  document.addEventListener("htmx:afterSwap", tick);
})();
