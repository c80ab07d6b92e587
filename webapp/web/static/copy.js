// The draft page's Copy buttons (webapp/web/draft_pages.py). Without JavaScript they stay
// hidden and the text is selected and copied by hand; nothing else on the page needs script.
(function () {
  function copy(text, button) {
    function done() { button.textContent = "Copied"; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text, done); });
    } else {
      fallback(text, done);
    }
  }
  function fallback(text, done) {
    var box = document.createElement("textarea");
    box.value = text;
    box.setAttribute("readonly", "");
    box.className = "sr-only";
    document.body.appendChild(box);
    box.select();
    try { if (document.execCommand("copy")) { done(); } } catch (e) { /* select by hand */ }
    document.body.removeChild(box);
  }
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    (function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(source.value !== undefined ? source.value : source.textContent, button);
      });
    })(buttons[i]);
  }
})();
