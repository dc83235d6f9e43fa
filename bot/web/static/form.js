// Small helpers for the checklist form; the form works without them.
// 1. "Use my current location" fills the latitude/longitude fields from the browser.
// 2. A post that fails for lack of network is kept in localStorage and sent when the network returns.
(function () {
  var KEY = "villagebot-outbox";
  var note = document.getElementById("offline");

  function outbox() { try { return JSON.parse(localStorage.getItem(KEY)) || []; } catch (e) { return []; } }
  function save(items) { localStorage.setItem(KEY, JSON.stringify(items)); }

  function flush() {
    var items = outbox();
    if (!items.length || !navigator.onLine) { return; }
    var item = items[0];
    fetch(item.url, { method: "POST", body: new URLSearchParams(item.body), credentials: "same-origin" })
      .then(function () { save(outbox().slice(1)); if (outbox().length) { flush(); } else { location.reload(); } })
      .catch(function () { /* still offline: try again on the next "online" event */ });
  }

  document.querySelectorAll("form[data-offline=yes]").forEach(function (form) {
    // form.action would be the button named "action": read the attribute
    var url = new URL(form.getAttribute("action"), location.href).href;
    form.addEventListener("submit", function (event) {
      var data = new FormData(form);
      if (event.submitter && event.submitter.name) { data.append(event.submitter.name, event.submitter.value); }
      var body = [];
      data.forEach(function (value, name) { if (typeof value === "string") { body.push([name, value]); } });
      event.preventDefault();
      fetch(url, { method: "POST", body: new URLSearchParams(body), credentials: "same-origin" })
        .then(function (response) {
          if (response.ok && response.redirected) { location.assign(response.url); return; }
          // a refusal (e.g. a wrong number): let the browser post normally to show the message
          if (event.submitter && event.submitter.name) {
            var hidden = document.createElement("input");
            hidden.type = "hidden"; hidden.name = event.submitter.name; hidden.value = event.submitter.value;
            form.appendChild(hidden);
          }
          form.submit();
        })
        .catch(function () {
          var items = outbox();
          items.push({ url: url, body: body });
          save(items);
          if (note) { note.textContent = note.dataset.queued; note.hidden = false; }
        });
    });
  });

  var locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        locate.form.elements.lat.value = pos.coords.latitude.toFixed(6);
        locate.form.elements.lon.value = pos.coords.longitude.toFixed(6);
      }, function () { locate.textContent = locate.dataset.failed; }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }

  window.addEventListener("online", flush);
  flush();
})();
