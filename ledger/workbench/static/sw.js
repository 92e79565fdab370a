// The workbench's service worker (scope /workbench/): pages and static files are answered
// from the network when there is one (and kept), from the cache when there is none. Writes
// are never cached nor replayed here: the page's IndexedDB queue (phone.js) sends them.
"use strict";
var CACHE = "ledger-workbench-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith("/workbench/") && !url.pathname.startsWith("/dashboard/static/")) return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(request).then(function (found) {
        return found || new Response("offline", {status: 503, headers: {"Content-Type": "text/plain"}});
      });
    })
  );
});
