// Telegram Mini App sign-in: send the launch parameters' initData to the server, then go to the forms.
(function () {
  var status = document.getElementById("status");
  var form = document.getElementById("signin");
  var hash = new URLSearchParams(location.hash.slice(1));
  var initData = (window.Telegram && Telegram.WebApp && Telegram.WebApp.initData) || hash.get("tgWebAppData") || "";
  if (!initData) { return; }
  form.elements.init_data.value = initData;
  fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)),
                       headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
    .then(function (res) {
      if (res[0]) { location.replace(res[1].redirect); } else { status.textContent = res[1].detail || status.dataset.failed; }
    })
    .catch(function () { status.textContent = status.dataset.failed; });
})();
