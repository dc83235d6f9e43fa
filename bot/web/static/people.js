// People pages: copy an invite or sign-in link to the clipboard, and print the invite.
// Without JavaScript the link is still shown in a field to select and copy by hand.
(function () {
  var status = document.getElementById("copy-status");

  function copied(button) { if (status) { status.textContent = button.getAttribute("data-done") || ""; } }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) { return; }
      var text = field.value;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { copied(button); }, function () {
          field.select(); document.execCommand("copy"); copied(button);
        });
      } else {
        field.focus(); field.select();
        try { document.execCommand("copy"); copied(button); } catch (e) { /* selected: the person copies it */ }
      }
    });
  });

  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
