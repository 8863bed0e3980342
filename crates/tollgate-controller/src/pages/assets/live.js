// tollgate's pages without a reload. The service renders every page; this script only asks
// it again for the part that changes (#live) when the decision log moves, and follows a work
// item's log as it is written. Without JavaScript the pages read the same, and refresh
// themselves while something runs.
"use strict";
(() => {
  const base = document.body.dataset.base || "";
  const live = document.getElementById("live");
  const light = document.querySelector("header.bar .live");
  let busy = false;
  let again = false;

  // The page rendered again, #live swapped: at most one request at a time, the last event
  // of a burst always seen.
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const answer = await fetch(location.href, { headers: { "Accept": "text/html" } });
      if (answer.ok) {
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const fresh = page.getElementById("live");
        if (fresh && live) { live.replaceChildren(...fresh.childNodes); live.dataset.running = fresh.dataset.running || ""; }
        const title = page.querySelector("title");
        if (title) { document.title = title.textContent; }
      }
    } catch (_) {
      // The service restarts: the next event or tick tries again.
    } finally {
      busy = false;
      if (again) { again = false; setTimeout(refresh, 100); }
    }
  }

  if (live && window.EventSource) {
    const scope = live.dataset.integration ? "&integration=" + live.dataset.integration : "";
    const events = new EventSource(base + "/api/events/stream?plain=true" + scope);
    events.onopen = () => light && (light.classList.add("on"), light.textContent = "live");
    events.onerror = () => light && (light.classList.remove("on"), light.textContent = "reconnecting");
    events.onmessage = refresh;
    // Durations of what runs grow between events.
    setInterval(() => { if (live.dataset.running) { refresh(); } }, 5000);
  }

  // A work item's log: what the page showed, then each piece of lines as it comes.
  const log = document.getElementById("log");
  if (log && log.dataset.stream && window.EventSource) {
    const stream = new EventSource(log.dataset.stream);
    const stick = () => log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
    stream.onmessage = (event) => {
      const follow = stick();
      for (const line of event.data.split("\n")) {
        // Marked by its stream, as the service marks the lines it rendered.
        const span = document.createElement("span");
        const kind = line.split(" ")[1];
        if (kind === "err" || kind === "sys") { span.className = kind; }
        span.textContent = line + "\n";
        log.append(span);
      }
      if (follow) { log.scrollTop = log.scrollHeight; }
    };
    stream.addEventListener("end", () => {
      stream.close();
      const state = document.getElementById("log-state");
      if (state) { state.textContent = "the work item has ended; this is its whole log"; }
      refresh();
    });
  }
})();
