// The engineer's phone: every step is kept in an IndexedDB queue first (with the moment it
// happened and an Idempotency-Key), then sent to the write API in order whenever the
// network is there (session cookie + X-CSRF-Token). A step taken offline is recorded once,
// later, with its real occurred_at; sending the same entry twice records once.
(function () {
  "use strict";
  var DB = "ledger-phone", STORE = "queue";

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, {keyPath: "id", autoIncrement: true});
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function all() { return tx("readonly", function (s) { return s.getAll(); }); }
  function add(item) { return tx("readwrite", function (s) { return s.add(item); }); }
  function put(item) { return tx("readwrite", function (s) { return s.put(item); }); }
  function remove(id) { return tx("readwrite", function (s) { return s.delete(id); }); }

  function showQueue() {
    var box = document.getElementById("queue-status");
    if (!box) return Promise.resolve();
    return all().then(function (items) {
      var text = items.length ? box.dataset.pending.replace("{n}", items.length) : box.dataset.empty;
      if (!navigator.onLine) text = box.dataset.offline + " " + text;
      box.textContent = text;
      box.classList.toggle("pending", items.length > 0);
      var list = document.createElement("ul");
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "queued";
        li.textContent = item.ticket + " · " + item.label + " · " + item.occurredLocal;
        list.appendChild(li);
      });
      box.appendChild(list);
    });
  }

  function localTime(iso) {
    var d = new Date(iso), pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  var sending = false, sentSomething = false;

  function sendOne(item) {
    var headers = {"X-CSRF-Token": Workbench.csrfToken(), "Idempotency-Key": item.key};
    var init = {method: "POST", credentials: "same-origin", headers: headers};
    if (item.upload) {
      var form = new FormData();
      form.append("file", item.blob, item.fileName);
      form.append("kind", item.evidenceKind);
      form.append("occurred_at", item.occurredAt);
      init.body = form;
    } else {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(Object.assign({occurred_at: item.occurredAt}, item.body));
    }
    return fetch(item.url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {status: response.status, ok: response.ok, data: data};
      });
    });
  }

  function fillLinks(items, done, sha256) {
    // A signature names its image by the hash the upload's answer gives.
    return Promise.all(items.filter(function (i) { return i.linkTo === done.id; }).map(function (i) {
      i.body.evidence_sha256 = sha256;
      delete i.linkTo;
      return put(i);
    }));
  }

  function flush() {
    if (sending || !navigator.onLine) return showQueue();
    sending = true;
    return all().then(function next(items) {
      if (!items.length) return null;
      var item = items[0];
      if (item.linkTo !== undefined) return null;  // its upload is not sent yet
      return sendOne(item).then(function (answer) {
        if (answer.status >= 500 || answer.status === 409 && /in-flight|being answered/.test(JSON.stringify(answer.data))) {
          return null;  // try again later
        }
        sentSomething = true;
        var dropped = Promise.resolve();
        if (!answer.ok) {
          report(item, answer.data);
          dropped = Promise.all(items.filter(function (i) { return i.linkTo === item.id; })
            .map(function (i) { return remove(i.id); }));
        }
        var sha = answer.ok && answer.data.attachment ? answer.data.attachment.sha256 : null;
        return dropped.then(function () { return sha ? fillLinks(items, item, sha) : null; })
          .then(function () { return remove(item.id); })
          .then(all).then(next);
      });
    }).catch(function () { return null; }).then(function () {
      sending = false;
      return showQueue();
    }).then(function () {
      if (sentSomething) return all().then(function (items) {
        if (!items.length) { sentSomething = false; window.location.reload(); }
      });
    });
  }

  function report(item, data) {
    var steps = document.getElementById("steps");
    var box = document.createElement("p");
    box.className = "form-message refused";
    box.textContent = (steps ? steps.dataset.failed : "") + " " + item.label + ": " + (data.detail || data.title || JSON.stringify(data));
    (steps || document.body).prepend(box);
    sentSomething = false;
  }

  function position() {
    // The phone's location when it gives one within a few seconds; never required.
    return new Promise(function (resolve) {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(function (p) {
        resolve({latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy: p.coords.accuracy});
      }, function () { resolve(null); }, {timeout: 5000, maximumAge: 60000, enableHighAccuracy: true});
    });
  }

  function entry(ticket, step, label, body) {
    var occurredAt = new Date().toISOString();
    return {
      ticket: ticket, step: step, label: label, body: body || {},
      url: "/tickets/" + encodeURIComponent(ticket) + "/" + step.replace("_", "-"),
      key: Workbench.newKey(), occurredAt: occurredAt, occurredLocal: localTime(occurredAt),
    };
  }

  function uploadEntry(ticket, blob, fileName, kind, label) {
    var item = entry(ticket, "attach", label, null);
    item.url = "/tickets/" + encodeURIComponent(ticket) + "/attachments";
    item.upload = true; item.blob = blob; item.fileName = fileName; item.evidenceKind = kind;
    return item;
  }

  function queue(items) {
    // Added one after another, so their ids keep their order; then sent.
    var chain = Promise.resolve(), ids = [];
    items.forEach(function (item) {
      chain = chain.then(function () {
        if (item.linkIndex !== undefined) { item.linkTo = ids[item.linkIndex]; delete item.linkIndex; }
        return add(item).then(function (id) { ids.push(id); });
      });
    });
    return chain.then(showQueue).then(flush);
  }

  function setUp() {
    var steps = document.getElementById("steps");
    if (steps) {
      var ticket = steps.dataset.ticket;
      steps.querySelectorAll("button.step").forEach(function (button) {
        button.addEventListener("click", function () {
          var step = button.dataset.step;
          button.disabled = true;
          var where = step === "set_off" || step === "arrive" ? position() : Promise.resolve(null);
          where.then(function (p) {
            return queue([entry(ticket, step, button.textContent.trim(), p || {})]);
          });
        });
      });
      steps.querySelectorAll("form.step-form").forEach(function (form) {
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          submitStep(ticket, form);
        });
      });
      setUpPad();
    }
    window.addEventListener("online", flush);
    window.addEventListener("offline", showQueue);
    setInterval(flush, 5000);
    flush();
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/workbench/sw.js", {scope: "/workbench/"}).catch(function () {});
  }

  function submitStep(ticket, form) {
    var step = form.dataset.step, label = form.querySelector("button[type=submit]").textContent.trim();
    var items = [];
    if (step === "suspend") items.push(entry(ticket, "suspend", label, {reason: form.reason.value}));
    if (step === "resolve") {
      var files = form.photos ? Array.prototype.slice.call(form.photos.files) : [];
      files.forEach(function (file) { items.push(uploadEntry(ticket, file, file.name, "photo", file.name)); });
      items.push(entry(ticket, "resolve", label, {summary: form.summary.value}));
    }
    if (step === "sign") {
      if (!pad.drawn) { document.getElementById("signature-error").hidden = false; return; }
      var blob = dataUrlBlob(pad.canvas.toDataURL("image/png"));
      items.push(uploadEntry(ticket, blob, "signature-" + ticket + ".png", "signature", label));
      var sign = entry(ticket, "sign", label, {signer: form.signer.value});
      sign.linkIndex = 0;
      items.push(sign);
    }
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    queue(items);
  }

  function dataUrlBlob(url) {
    var bytes = atob(url.split(",")[1]), array = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
    return new Blob([array], {type: "image/png"});
  }

  var pad = {canvas: null, drawn: false};

  function setUpPad() {
    // A signature pad: pointer strokes on a canvas, kept as a PNG.
    var canvas = document.getElementById("signature-pad");
    if (!canvas) return;
    pad.canvas = canvas;
    var ctx = canvas.getContext("2d"), drawing = false;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
    function at(e) {
      var r = canvas.getBoundingClientRect();
      return {x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height};
    }
    canvas.addEventListener("pointerdown", function (e) {
      drawing = true; canvas.setPointerCapture(e.pointerId);
      var p = at(e); ctx.beginPath(); ctx.moveTo(p.x, p.y);
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) return;
      var p = at(e); ctx.lineTo(p.x, p.y); ctx.stroke(); pad.drawn = true;
    });
    ["pointerup", "pointercancel"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    document.getElementById("signature-clear").addEventListener("click", function () {
      ctx.fillRect(0, 0, canvas.width, canvas.height); pad.drawn = false;
    });
  }

  window.Phone = {flush: flush, all: all, queue: queue};
  document.addEventListener("DOMContentLoaded", setUp);
})();
