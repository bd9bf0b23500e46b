// The phone page's service worker (scope /phone): the page opens with no network once it has been
// loaded. Its files and words are kept when the worker installs and refreshed whenever the
// network answers (network first, so a new version of the page is seen at once when online); the
// signed-in user's last answers to "who am I" and "my open cases" are kept too, under a key made
// from a hash of their token (never the token itself), so another user of the same phone is not
// shown them, and forgotten when the page signs out. Nothing else is touched: writes always go to
// the network (the page's outbox keeps what could not be sent).
"use strict";

const VERSION = "1";
const SHELL_CACHE = `geo_service.phone.shell.${VERSION}`;
const USER_CACHE = "geo_service.phone.user";
const SHELL = [
  "/phone",
  "/static/common.js",
  "/static/common.css",
  "/static/phone.css",
  "/static/phone.js",
  "/static/phone-queue.js",
  "/static/phone-report.js",
  "/static/phone-cases.js",
  "/static/phone.webmanifest",
  "/i18n/zh.json",
  "/i18n/en.json",
];
const USER_PATHS = ["/auth/me", "/incidents"];
// On a poor connection, how long to wait for the network before answering from what is kept.
const PATIENCE_MS = 5000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("geo_service.phone.shell.") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.forget === "user") event.waitUntil(caches.delete(USER_CACHE));
});

async function userKey(request, url) {
  const token = request.headers.get("Authorization");
  if (!token) return null;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${url.pathname}${url.search}${url.search ? "&" : "?"}sw-user=${hex}`;
}

// The network's answer, kept under `key`; the kept one when the network fails or is slow.
async function networkFirst(request, cacheName, key) {
  const cache = await caches.open(cacheName);
  const fromNetwork = fetch(request).then((response) => {
    if (response.ok) cache.put(key, response.clone());
    return response;
  });
  fromNetwork.catch(() => {}); // awaited below, or given up for what is kept
  const slow = new Promise((resolve) => setTimeout(() => resolve("slow"), PATIENCE_MS));
  try {
    const first = await Promise.race([fromNetwork, slow]);
    if (first !== "slow") return first;
    const kept = await cache.match(key);
    return kept || (await fromNetwork);
  } catch (error) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (SHELL.includes(url.pathname)) {
    event.respondWith(networkFirst(request, SHELL_CACHE, url.pathname));
  } else if (USER_PATHS.includes(url.pathname)) {
    event.respondWith((async () => {
      const key = await userKey(request, url);
      return key ? networkFirst(request, USER_CACHE, key) : fetch(request);
    })());
  }
});
