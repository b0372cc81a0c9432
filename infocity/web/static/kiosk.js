// A kiosk left alone returns to its start page by itself. The server forgets the patient
// after the same idle time (data-idle-seconds); "Finish" is pressed here so that the
// session cookie is deleted at once rather than left to expire.
(function () {
  var seconds = parseInt(document.body && document.body.dataset.idleSeconds, 10);
  if (!(seconds > 0)) { return; }
  var timer = null;
  function leave() {
    var finish = document.querySelector("form.kiosk-finish");
    if (finish) { finish.submit(); } else { window.location.assign("/kiosk"); }
  }
  function restart() {
    if (timer !== null) { window.clearTimeout(timer); }
    timer = window.setTimeout(leave, seconds * 1000);
  }
  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, restart, { passive: true });
  });
  restart();
})();
