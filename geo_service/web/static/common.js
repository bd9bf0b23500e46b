// What every page shares: the signed-in user's token, the reader's language and its words, and
// dates and numbers written as people in the county write them. Loaded before a page's own script;
// everything is on window.GS. No page text lives here: the words come from /i18n/{language}.json
// (geo_service/i18n/catalogue), the server's messages arrive already in the reader's language.
"use strict";

(function () {
  const TOKEN_KEY = "geo_service.token";
  const LANG_KEY = "geo_service.lang";
  const REMEMBER_KEY = "geo_service.remember";  // the phone page keeps its token on the device
  const words = {
    ui: {}, vocabulary: {}, categories: {}, sources: {}, roles: {}, access_roles: {}, camera_kinds: {}, timezone: "Asia/Shanghai",
  };
  const state = { token: null, me: null, onSignedIn: null, language: "zh" };

  const $ = (id) => document.getElementById(id);
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  // --- language and words ------------------------------------------------------------------------

  function language() {
    try { return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh"; } catch { return "zh"; }
  }

  function setLanguage(lang) {
    try { localStorage.setItem(LANG_KEY, lang); } catch { /* private mode: this page only */ }
    location.reload();
  }

  // t("console.inbox.count", {n: 3}): the page's words with {names} filled in; a key with no word
  // shows as itself, so a missing word is seen (and the tests catch it).
  function t(key, params) {
    let text = words.ui[key];
    if (text === undefined) return key;
    if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (params[name] ?? m));
    return text;
  }

  // label("status", "in_progress") -> 办理中; the names of categories, sources and roles are data.
  function label(group, code) {
    if (code === null || code === undefined || code === "") return "";
    if (group === "category") return words.categories[code] ?? code;
    if (group === "source") return words.sources[code] ?? code;
    if (group === "role") return words.roles[code] ?? code;
    if (group === "access_role") return words.access_roles[code] ?? code;
    if (group === "camera_kind") return words.camera_kinds[code] ?? code;
    return words.vocabulary[group]?.[code] ?? code;
  }

  // Elements marked data-i18n="key" (text), data-i18n-placeholder, data-i18n-title, data-i18n-aria-label.
  function translate(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const [attr, data] of [["placeholder", "i18nPlaceholder"], ["title", "i18nTitle"], ["aria-label", "i18nAriaLabel"]]) {
      for (const el of root.querySelectorAll(`[data-${attr === "aria-label" ? "i18n-aria-label" : "i18n-" + attr}]`)) {
        el.setAttribute(attr, t(el.dataset[data]));
      }
    }
    document.documentElement.lang = state.language === "zh" ? "zh-CN" : "en";
  }

  async function loadWords() {
    state.language = language();
    const response = await fetch(`/i18n/${state.language}.json`);
    Object.assign(words, await response.json());
    translate();
  }

  // --- dates and numbers -------------------------------------------------------------------------

  const locale = () => (state.language === "zh" ? "zh-CN" : "en-GB");
  const fmt = {
    // 2026年11月27日 14:05 in the county's time zone, whatever the browser's.
    datetime(iso) {
      if (!iso) return "";
      return new Intl.DateTimeFormat(locale(), {
        timeZone: words.timezone, year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
      }).format(new Date(iso));
    },
    date(iso) {
      if (!iso) return "";
      return new Intl.DateTimeFormat(locale(), { timeZone: words.timezone, year: "numeric", month: "long", day: "numeric" }).format(new Date(iso));
    },
    time(iso) {
      if (!iso) return "";
      return new Intl.DateTimeFormat(locale(), { timeZone: words.timezone, hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(iso));
    },
    number(n, digits) {
      if (n === null || n === undefined || Number.isNaN(n)) return "—";
      return new Intl.NumberFormat(locale(), digits === undefined ? {} : { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n);
    },
    percent(share, digits = 1) {
      if (share === null || share === undefined || Number.isNaN(share)) return "—";
      return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: digits, minimumFractionDigits: digits }).format(share);
    },
    // 2天3小时 / 2 d 3 h: how long until (positive) or since (negative) a moment, in days and hours.
    hours(h) {
      const sign = h < 0 ? -1 : 1;
      const total = Math.round(Math.abs(h));
      const days = Math.floor(total / 24), rest = total % 24;
      const parts = [];
      if (days) parts.push(t("common.duration.days", { n: days }));
      if (rest || !days) parts.push(t("common.duration.hours", { n: rest }));
      return (sign < 0 ? "-" : "") + parts.join(state.language === "zh" ? "" : " ");
    },
    // The county's local date (YYYY-MM-DD) of a moment, for date inputs.
    isoDate(when = new Date()) {
      return new Intl.DateTimeFormat("en-CA", { timeZone: words.timezone }).format(when);
    },
  };

  // --- the token and requests --------------------------------------------------------------------

  function sameOrigin(url) {
    try { return new URL(url, location.href).origin === location.origin; } catch { return false; }
  }

  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(REMEMBER_KEY); } catch { return null; }
  }

  function storeToken(token, onDevice) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
      if (token && onDevice) localStorage.setItem(REMEMBER_KEY, token);
      if (!token) localStorage.removeItem(REMEMBER_KEY);
    } catch { /* storage refused: the token lives in this page only */ }
  }

  // The token goes to this service only, never to a basemap's server; every request says the
  // reader's language, so that the server's messages come back in it.
  function withToken(url, options = {}) {
    const headers = new Headers(options.headers || {});
    if (sameOrigin(url)) {
      if (state.token) headers.set("Authorization", `Bearer ${state.token}`);
      headers.set("Accept-Language", state.language === "zh" ? "zh-CN" : "en");
    }
    return { ...options, headers };
  }

  async function api(url, options) {
    const response = await fetch(url, withToken(url, options));
    // A token refused once it was accepted: sign in again (a sign-in refused says its own reason).
    if (response.status === 401 && state.token && state.me) signOut(t("common.signin.expired"));
    return response;
  }

  // The JSON of a request, or an Error carrying the server's own message (in the reader's language).
  async function json(url, options) {
    const response = await api(url, options);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.message || t("common.error.status", { status: response.status }));
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  const post = (url, body) => json(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });

  // --- sign-in -----------------------------------------------------------------------------------

  function signInForm() {
    let backdrop = $("signin-backdrop");
    if (backdrop) return backdrop;
    backdrop = document.createElement("div");
    backdrop.id = "signin-backdrop";
    backdrop.innerHTML = `
      <form id="signin" autocomplete="off" aria-labelledby="signin-title">
        <h2 id="signin-title">${esc(t("common.signin.title"))}</h2>
        <p class="hint">${esc(t("common.signin.hint"))}</p>
        <label for="signin-token">${esc(t("common.signin.token"))}</label>
        <input id="signin-token" name="token" type="password" required spellcheck="false" autocomplete="off">
        <label class="check"><input id="signin-remember" name="remember" type="checkbox" checked> ${esc(t(state.rememberOnDevice ? "common.signin.remember_device" : "common.signin.remember"))}</label>
        <button type="submit">${esc(t("common.signin.submit"))}</button>
        <div id="signin-error" class="error" role="alert"></div>
      </form>`;
    document.body.appendChild(backdrop);
    $("signin").addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = $("signin-token").value.trim();
      const ok = await signIn(token, $("signin-remember").checked);
      if (ok) $("signin-token").value = "";
    });
    return backdrop;
  }

  function showSignIn(reason) {
    signInForm();
    document.body.classList.add("signed-out");
    $("signin-error").textContent = reason || "";
    $("signin-token").focus();
  }

  async function signIn(token, remember) {
    state.token = token;
    try {
      state.me = await json("/auth/me");
    } catch (error) {
      state.token = null;
      storeToken(null);  // a stored token refused is forgotten
      showSignIn(error.message);
      return false;
    }
    storeToken(remember ? token : null, remember && state.rememberOnDevice);
    document.body.classList.remove("signed-out");
    if (state.onSignedIn) await state.onSignedIn(state.me);
    return true;
  }

  function signOut(reason) {
    state.token = null;
    state.me = null;
    storeToken(null);
    if (state.onSignOut) state.onSignOut();
    showSignIn(reason);
  }

  // The language switch: any element with id "lang-switch" toggles between 中文 and English.
  function languageSwitch() {
    const button = $("lang-switch");
    if (!button) return;
    button.textContent = state.language === "zh" ? "English" : "中文";
    button.addEventListener("click", () => setLanguage(state.language === "zh" ? "en" : "zh"));
  }

  // Start a page: its words, then the sign-in (a stored token is tried first); onSignedIn(me)
  // runs once the token is accepted, onSignOut when it is dropped.
  async function start({ onSignedIn, onSignOut, rememberOnDevice = false } = {}) {
    state.onSignedIn = onSignedIn;
    state.onSignOut = onSignOut;
    state.rememberOnDevice = rememberOnDevice;
    await loadWords();
    languageSwitch();
    const signOutButton = $("sign-out");
    if (signOutButton) signOutButton.addEventListener("click", () => signOut(""));
    const token = storedToken();
    if (token) await signIn(token, true); else showSignIn("");
  }

  window.GS = {
    $, esc, t, label, translate, fmt, api, json, post, start, signOut,
    get me() { return state.me; },
    get token() { return state.token; },
    get language() { return state.language; },
    words,
  };
})();
