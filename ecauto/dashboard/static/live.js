// The dashboard's only script: refresh each part in place, and send actions with the CSRF header.
// Without it the page still works: forms post and the page reloads.
(function () {
  "use strict";
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const every = parseInt(meta("ecauto-refresh"), 10) || 2000;
  const csrf = meta("ecauto-csrf");
  const live = document.getElementById("live");
  let busy = false;

  function query() {
    // The page's own filters (range, daemon, level) carry over into each refresh.
    const q = new URLSearchParams(location.search);
    q.delete("said");
    return q.toString();
  }

  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const r = await fetch("/live?" + query(), { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!r.ok) throw new Error(String(r.status));
      const data = await r.json();
      for (const [name, html] of Object.entries(data.parts)) {
        const el = document.querySelector(`[data-part="${name}"]`);
        if (!el) continue;
        // Keep the log's scroll position and an open select while the operator reads.
        if (el.contains(document.activeElement) && document.activeElement.tagName === "SELECT") continue;
        const pre = el.querySelector("pre.logs");
        const follow = !pre || pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        el.innerHTML = html;
        const now = el.querySelector("pre.logs");
        if (now && follow) now.scrollTop = now.scrollHeight;
      }
      document.title = document.title.replace(/— .*$/, "— " + data.status_word);
      const at = document.getElementById("at");
      // the server's clock and zone (the page says it once), not the browser's
      if (at && data.at) {
        at.textContent = data.at;
        at.title = data.at_stamp;
      }
      live.dataset.state = "ok";
    } catch (e) {
      live.dataset.state = "error";
    } finally {
      busy = false;
    }
  }

  document.addEventListener("submit", async (ev) => {
    const form = ev.target;
    if (!form.hasAttribute("data-action") || !csrf) return;
    ev.preventDefault();
    const said = document.getElementById("said");
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const r = await fetch(form.action, {
        method: "POST",
        headers: { "X-Ecauto-Csrf": csrf, "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams(new FormData(form)).toString(),
        credentials: "same-origin",
      });
      const data = await r.json().catch(() => ({ message: String(r.status) }));
      said.textContent = data.message;
      said.dataset.ok = String(!!data.ok);
    } finally {
      if (button) button.disabled = false;
      refresh();
    }
  });

  const logs = document.querySelector("pre.logs");
  if (logs) logs.scrollTop = logs.scrollHeight; // a tail: the newest lines in view
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
