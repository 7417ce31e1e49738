// The reconnect banner's buttons (App.razor). blazor.web.js shows and hides the banner itself.
(() => {
  const banner = document.getElementById("components-reconnect-modal");
  if (!banner) {
    return;
  }

  banner.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) {
      return;
    }

    if (button.classList.contains("vmc-reconnect-reload")) {
      location.reload();
      return;
    }

    try {
      const back = button.classList.contains("vmc-reconnect-resume") ? await Blazor.resumeCircuit() : await Blazor.reconnect();
      if (!back) {
        location.reload();
      }
    } catch {
      location.reload();
    }
  });
})();
