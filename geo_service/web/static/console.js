// The dispatcher's console at /: who is signed in, the inbox (console-inbox.js), the case view
// (console-case.js, console-actions.js), the new-case form (console-new.js) and the map they
// share (console-map.js). Sign-in, words and dates are common.js's (window.GS).
"use strict";

(function () {
  const CS = (window.CS = window.CS || {});
  const { $, label } = GS;

  function header(me) {
    $("who-name").textContent = me.name;
    $("who-role").textContent = label("access_role", me.role);
    $("who-jurisdiction").textContent = GS.t("console.header.jurisdiction", { name: me.jurisdiction.name });
    $("who").hidden = false;
  }

  async function onSignedIn(me) {
    header(me);
    CS.caseView.wire();
    CS.caseView.clear();
    // The inbox does not wait for the map: a dispatcher reads the list first.
    const map = CS.map.init().catch((error) => { $("inbox-status").textContent = error.message; });
    await CS.inbox.start();
    await map;
    window.consoleReady = true;
  }

  function onSignOut() {
    window.consoleReady = false;
    $("who").hidden = true;
    CS.newCase.close();
    CS.inbox.clear();
    CS.caseView.clear();
    CS.map.remove();
  }

  $("new-case-button").addEventListener("click", () => CS.newCase.open());
  GS.start({ onSignedIn, onSignOut });
})();
