// Live console pages: a server-sent-events stream says which ticket changed; the page refetches its fragment.
(function () {
  "use strict";
  const rows = document.getElementById("queue-rows");
  const table = document.getElementById("queue");
  const conversation = document.getElementById("conversation");
  if (!window.EventSource || (!rows && !conversation)) return;
  async function refresh(target, url) {
    const resp = await fetch(url, {credentials: "same-origin"});
    if (resp.ok) target.innerHTML = await resp.text();  // server-rendered, autoescaped HTML
  }
  let timer = null;
  function later(fn) { clearTimeout(timer); timer = setTimeout(fn, 150); }
  const source = new EventSource("/console/events");
  source.addEventListener("update", (ev) => {
    const data = JSON.parse(ev.data);
    if (rows) later(() => refresh(rows, table.dataset.live));
    if (conversation && String(data.ticket_id) === conversation.dataset.ticket) {
      later(() => refresh(conversation, conversation.dataset.live));
    }
  });
  if (rows) setInterval(() => refresh(rows, table.dataset.live), 60000);  // ages move on even without events
})();
