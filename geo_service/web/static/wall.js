// The wall screen (大屏) of the command centre: signs in once and keeps its token on the device,
// then shows /wall/summary for the user's jurisdiction and refreshes it every minute, and at once
// when the screen becomes visible again.
//
// The address may say `?refresh=SECONDS` (1 to 3600; default 60) and `?at=TIME` (the moment the
// figures are as at, passed to the service as it is; default now): a screen showing a past day,
// and the tests, use them.
"use strict";

(function () {
  const query = new URLSearchParams(location.search);
  const at = query.get("at");
  const requested = Number(query.get("refresh"));
  const seconds = Number.isFinite(requested) && requested > 0 ? Math.min(Math.max(requested, 1), 3600) : 60;
  const RED_SHOWN = 6;

  // What the screen shows now; window.wall for the tests and for anyone checking the screen.
  const state = window.wall = { refreshes: 0, failures: 0, summary: null, timer: null, busy: false, seconds };

  async function refresh() {
    if (state.busy || !GS.me) return;
    state.busy = true;
    try {
      const params = new URLSearchParams({ datum: WallMap.datum, red_limit: String(RED_SHOWN) });
      if (at) params.set("at", at);
      const summary = await GS.json(`/wall/summary?${params}`);
      state.summary = summary;
      WallRender.all(summary);
      WallMap.show(summary.recent);
      GS.$("wall-refreshed").textContent = GS.t("wall.refreshed", { time: WallRender.clock(new Date()) });
      GS.$("wall-error").textContent = "";
      state.refreshes += 1;
    } catch (error) {
      // The last figures stay up; the screen says they are stale, and the next tick tries again.
      state.failures += 1;
      GS.$("wall-error").textContent = GS.t("wall.refresh_failed", { message: error.message });
    } finally {
      state.busy = false;
    }
  }

  function stop() {
    clearInterval(state.timer);
    state.timer = null;
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });

  GS.start({
    rememberOnDevice: true,
    async onSignedIn(me) {
      GS.$("wall-place").textContent = me.jurisdiction?.name || "";
      stop();
      try {
        await WallMap.open();
      } catch (error) {
        GS.$("wall-error").textContent = GS.t("wall.refresh_failed", { message: error.message });
      }
      await refresh();
      state.timer = setInterval(refresh, seconds * 1000);
    },
    onSignOut() {
      stop();
      WallMap.close();
    },
  });
})();
